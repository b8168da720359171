#include "registry/registry.h"

#include "common/log.h"
#include "migrations/embedded_migrations.h"
#include "registry/sqlite.h"

namespace hubmirror::registry {
namespace {

constexpr int kBusyTimeoutMs = 10000;
// SQLite's own automatic checkpoint threshold, which the WAL hook below takes over.
constexpr int kAutoCheckpointFrames = 1000;

// Runs after every commit of a writing connection: tells readers of every process that the
// database changed, then checkpoints as SQLite would have (a WAL hook replaces its own).
int AfterCommit(void* counter, sqlite3* db, const char* database, int frames) {
  static_cast<ChangeCounter*>(counter)->Bump();
  if (frames >= kAutoCheckpointFrames) {
    sqlite3_wal_checkpoint_v2(db, database, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
  }
  return SQLITE_OK;
}

}  // namespace

Result<std::unique_ptr<Registry>> Registry::Open(const std::filesystem::path& db_path, Mode mode) {
  // Memory statistics take a process-wide mutex on every allocation; nothing here reads them.
  static const int kConfigured = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  (void)kConfigured;
  sqlite3* db = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(db_path.c_str(), &db, flags, nullptr) != SQLITE_OK) {
    std::string message = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return IoError("cannot open registry " + db_path.string() + ": " + message);
  }
  std::unique_ptr<Registry> registry(new Registry(db));
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  // Reads through a memory map and a larger page cache avoid a pread per page visited (lineage
  // walks visit many); recursive queries keep their working tables in memory.
  HM_RETURN_IF_ERROR(Exec(db,
                          "PRAGMA foreign_keys = ON; PRAGMA mmap_size = 1073741824; "
                          "PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY"));
  if (mode == Mode::kReadOnly) {
    int version = registry->SchemaVersion();
    int latest = migrations::EmbeddedMigrations().back().version;
    if (version != latest) {
      return Status(StatusCode::kFailedPrecondition,
                    "registry " + db_path.string() + " has schema version " +
                        std::to_string(version) + ", this binary expects " +
                        std::to_string(latest));
    }
    HM_RETURN_IF_ERROR(Exec(db, "PRAGMA query_only = ON"));
    // Without the counter (a data directory it cannot write to) answers are not cached.
    auto changes = ChangeCounter::Open(db_path);
    if (changes.ok()) {
      registry->changes_ = std::move(changes.value());
      registry->resolved_.Enable(registry->changes_.get());
      registry->principals_.Enable(registry->changes_.get());
      registry->access_.Enable(registry->changes_.get());
    }
    return registry;
  }
  HM_RETURN_IF_ERROR(Exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL"));
  auto changes = ChangeCounter::Open(db_path);
  if (!changes.ok()) return changes.status();
  registry->changes_ = std::move(changes.value());
  sqlite3_wal_hook(db, AfterCommit, registry->changes_.get());
  Status migrated = registry->Migrate();
  if (!migrated.ok()) {
    return Status(migrated.code(), "registry " + db_path.string() + ": " + migrated.message());
  }
  return registry;
}

Registry::Registry(sqlite3* db) : db_(db), statements_(std::make_unique<StatementCache>(db)) {}

Registry::~Registry() {
  statements_.reset();  // statements must be finalized before the connection closes
  sqlite3_close(db_);
}

bool Registry::InTransaction() const { return sqlite3_get_autocommit(db_) == 0; }

Status Registry::BeginRead() {
  Statement begin(*statements_, "BEGIN");
  return begin.Run();
}

void Registry::EndRead() {
  Statement commit(*statements_, "COMMIT");
  // Ending a read changes nothing; a failure only means the snapshot was already gone.
  if (Status ended = commit.Run(); !ended.ok()) {
    Log(LogLevel::kWarning, "registry read transaction: " + ended.message());
  }
}

int Registry::SchemaVersion() {
  Statement s(*statements_, "PRAGMA user_version");
  return s.Step() ? static_cast<int>(s.Int(0)) : -1;
}

uint64_t Registry::ChangeCount() const { return changes_ != nullptr ? changes_->Load() : 0; }

Status Registry::Migrate() {
  auto all = migrations::EmbeddedMigrations();
  int current = SchemaVersion();
  int latest = all.back().version;
  if (current > latest) {
    return Status(StatusCode::kFailedPrecondition, "schema version " + std::to_string(current) +
                                                       " is newer than this binary supports (" +
                                                       std::to_string(latest) +
                                                       "); upgrade hubmirror");
  }
  if (current == latest) return Status::Ok();
  // Rebuilding a table that others reference (SQLite cannot alter a CHECK in place) needs foreign
  // keys off, as SQLite's own procedure for schema changes says; each migration must still leave
  // every reference intact, which foreign_key_check proves before it commits.
  HM_RETURN_IF_ERROR(Exec(db_, "PRAGMA foreign_keys = OFF"));
  Status migrated = ApplyMigrations(current);
  Status restored = Exec(db_, "PRAGMA foreign_keys = ON");
  return migrated.ok() ? restored : migrated;
}

Status Registry::ApplyMigrations(int current) {
  for (const auto& migration : migrations::EmbeddedMigrations()) {
    if (migration.version <= current) continue;
    WriteTransaction transaction(db_);
    HM_RETURN_IF_ERROR(transaction.Begin());
    // A concurrent process may have migrated while this one waited for the write lock.
    if (SchemaVersion() >= migration.version) {
      HM_RETURN_IF_ERROR(transaction.Rollback());
      continue;
    }
    Status applied = Exec(db_, migration.sql);
    if (applied.ok()) {
      Statement check(*statements_, "PRAGMA foreign_key_check");
      if (check.Step()) {
        applied = Internal("it leaves a row of " + check.Text(0) + " referring to a missing " +
                           check.Text(2) + " row");
      } else if (!check.status().ok()) {
        applied = check.status();
      }
    }
    if (applied.ok()) {
      applied = Exec(db_, "PRAGMA user_version = " + std::to_string(migration.version));
    }
    if (applied.ok()) applied = transaction.Commit();
    if (!applied.ok()) {
      return Internal(std::string("migration ") + migration.name + " failed: " + applied.message());
    }
  }
  return Status::Ok();
}

}  // namespace hubmirror::registry
