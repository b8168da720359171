#include "registry/registry.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include "common/clock.h"
#include "common/digest.h"
#include "migrations/embedded_migrations.h"
#include "registry/lineage_index.h"
#include "registry/sqlite.h"

namespace hubmirror::registry {
namespace {

constexpr int kBusyTimeoutMs = 10000;

// The Hub's `_id` is a 24-hex Mongo ObjectId whose first 4 bytes are the creation time; keep
// that property and make the rest a stable function of the repo's identity.
std::string MakeObjectId(RepoType type, std::string_view name_lower, int64_t created_ms) {
  char time_hex[9];
  std::snprintf(time_hex, sizeof time_hex, "%08x", static_cast<unsigned>(created_ms / 1000));
  return std::string(time_hex) +
         Sha1Hex(std::string(RepoTypeName(type)) + "/" + std::string(name_lower)).substr(0, 16);
}

std::string EscapeLike(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '%' || c == '_' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

// Smallest string greater than every string starting with `prefix`, for range scans on paths.
std::string PrefixUpperBound(std::string prefix) {
  prefix.back() = static_cast<char>(prefix.back() + 1);
  return prefix;
}

constexpr const char* kRepoColumns =
    "r.id, r.type, r.name, r.author, r.object_id, r.default_branch, r.created_at, "
    "r.last_modified, r.card_data, r.pipeline_tag, r.library_name, r.downloads, r.likes, "
    "r.private, r.gated";

// Entry columns, then the entry's commit id (read by ResolveFile).
constexpr const char* kEntrySelect =
    "SELECT e.path, e.type, e.size, e.git_oid, e.sha256, e.lfs, e.pointer_size, "
    "e.last_commit_id, c.title, c.date, b.state, e.commit_id FROM entries e "
    "LEFT JOIN commits c ON c.repo_id = e.repo_id AND c.id = e.last_commit_id "
    "LEFT JOIN blobs b ON b.sha256 = e.sha256 ";
constexpr int kEntryColumnCount = 11;

Entry ReadEntryRow(const Statement& s) {
  Entry e;
  e.path = s.Text(0);
  e.is_directory = s.Text(1) == "directory";
  e.size = static_cast<uint64_t>(s.Int(2));
  e.git_oid = s.Text(3);
  e.sha256 = s.Text(4);
  e.lfs = s.Int(5) != 0;
  e.pointer_size = static_cast<uint64_t>(s.Int(6));
  e.last_commit_id = s.Text(7);
  e.last_commit_title = s.Text(8);
  e.last_commit_date_ms = s.Int(9);
  if (!e.is_directory) e.blob_state = s.Text(10);
  return e;
}

constexpr const char* kCommitColumns =
    "c.id, c.parent_id, c.tree_id, c.title, c.message, c.author, c.date, c.card_data, c.tags, "
    "c.pipeline_tag, c.library_name";

constexpr const char* kUpsertLineageEdge =
    "INSERT INTO lineage_edges (child, child_lower, parent, parent_lower, relation, source, "
    "inferred) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
    "relation = excluded.relation, source = excluded.source, inferred = excluded.inferred "
    // What a child's own metadata (card, or the upstream's baseModels of it) says is not
    // overridden by what others report of it.
    "WHERE lineage_edges.source NOT IN ('card', 'baseModels') OR "
    "excluded.source IN ('card', 'baseModels')";

void BindLineageEdge(Statement& s, const LineageEdge& edge) {
  s.Bind(1, edge.child).Bind(2, AsciiLower(edge.child)).Bind(3, edge.parent);
  s.Bind(4, AsciiLower(edge.parent)).Bind(5, edge.relation).Bind(6, edge.source);
  s.Bind(7, edge.inferred ? 1 : 0);
}

Commit ReadCommit(Statement& s) {
  Commit commit;
  commit.id = s.Text(0);
  commit.parent_id = s.Text(1);
  commit.tree_id = s.Text(2);
  commit.title = s.Text(3);
  commit.message = s.Text(4);
  commit.author = s.Text(5);
  commit.date_ms = s.Int(6);
  commit.card_data_json = s.Text(7);
  nlohmann::json tags = nlohmann::json::parse(s.Text(8), nullptr, false);
  if (tags.is_array()) {
    for (const auto& tag : tags) {
      if (tag.is_string()) commit.tags.push_back(tag.get<std::string>());
    }
  }
  commit.pipeline_tag = s.Text(9);
  commit.library_name = s.Text(10);
  return commit;
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
    return registry;
  }
  HM_RETURN_IF_ERROR(Exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL"));
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

Result<std::optional<BlobRow>> Registry::FindBlob(const std::string& sha256) {
  Statement s(*statements_,
              "SELECT sha256, size, git_sha1 FROM blobs WHERE sha256 = ? AND state = 'ok'");
  s.Bind(1, sha256);
  if (s.Step()) {
    return std::optional<BlobRow>(BlobRow{s.Text(0), static_cast<uint64_t>(s.Int(1)), s.Text(2)});
  }
  HM_RETURN_IF_ERROR(s.status());
  return std::optional<BlobRow>();
}

Result<std::optional<std::string>> Registry::FindBlobByGitSha1(const std::string& git_sha1,
                                                               uint64_t size) {
  Statement s(*statements_,
              "SELECT sha256 FROM blobs WHERE git_sha1 = ? AND size = ? AND state = 'ok' LIMIT 1");
  s.Bind(1, git_sha1).Bind(2, static_cast<int64_t>(size));
  if (s.Step()) return std::optional<std::string>(s.Text(0));
  HM_RETURN_IF_ERROR(s.status());
  return std::optional<std::string>();
}

Status Registry::RecordSync(const SyncState& state) {
  bool success = state.last_error.empty();
  Statement s(
      *statements_,
      "INSERT INTO sync_state (type, repo, repo_lower, revision, upstream, upstream_commit, "
      "local_commit, last_check, last_success, last_error) "
      "VALUES (?1, ?2, ?3, ?4, ?5, NULLIF(?6, ''), NULLIF(?7, ''), ?8, "
      "CASE WHEN ?10 = '' THEN ?9 END, NULLIF(?10, '')) "
      "ON CONFLICT (type, repo_lower, revision) DO UPDATE SET "
      "repo = excluded.repo, upstream = excluded.upstream, "
      "upstream_commit = COALESCE(excluded.upstream_commit, upstream_commit), "
      "local_commit = CASE WHEN ?10 = '' THEN excluded.local_commit ELSE local_commit END, "
      "last_check = excluded.last_check, "
      "last_success = CASE WHEN ?10 = '' THEN excluded.last_success ELSE last_success END, "
      "last_error = excluded.last_error");
  s.Bind(1, RepoTypeName(state.type)).Bind(2, state.repo).Bind(3, AsciiLower(state.repo));
  s.Bind(4, state.revision).Bind(5, state.upstream).Bind(6, state.upstream_commit);
  s.Bind(7, state.local_commit).Bind(8, state.last_check_ms);
  s.Bind(9, success ? state.last_success_ms : 0).Bind(10, state.last_error);
  return s.Run();
}

Result<std::vector<SyncState>> Registry::ListSyncStates() {
  Statement s(*statements_,
              "SELECT type, repo, revision, upstream, upstream_commit, local_commit, last_check, "
              "last_success, last_error FROM sync_state ORDER BY type, repo_lower, revision");
  std::vector<SyncState> states;
  while (s.Step()) {
    SyncState state;
    ParseRepoType(s.Text(0), &state.type);
    state.repo = s.Text(1);
    state.revision = s.Text(2);
    state.upstream = s.Text(3);
    state.upstream_commit = s.Text(4);
    state.local_commit = s.Text(5);
    state.last_check_ms = s.Int(6);
    state.last_success_ms = s.Int(7);
    state.last_error = s.Text(8);
    states.push_back(std::move(state));
  }
  HM_RETURN_IF_ERROR(s.status());
  return states;
}

bool Registry::InTransaction() const { return sqlite3_get_autocommit(db_) == 0; }

Status Registry::BeginRead() {
  Statement begin(*statements_, "BEGIN");
  return begin.Run();
}

void Registry::EndRead() {
  Statement commit(*statements_, "COMMIT");
  commit.Run();
}

int Registry::SchemaVersion() {
  Statement s(*statements_, "PRAGMA user_version");
  return s.Step() ? static_cast<int>(s.Int(0)) : -1;
}

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
  for (const auto& migration : all) {
    if (migration.version <= current) continue;
    HM_RETURN_IF_ERROR(Exec(db_, "BEGIN IMMEDIATE"));
    // A concurrent process may have migrated while this one waited for the write lock.
    if (SchemaVersion() >= migration.version) {
      HM_RETURN_IF_ERROR(Exec(db_, "ROLLBACK"));
      continue;
    }
    Status applied = Exec(db_, migration.sql);
    if (applied.ok()) {
      applied = Exec(db_, "PRAGMA user_version = " + std::to_string(migration.version));
    }
    if (!applied.ok()) {
      Exec(db_, "ROLLBACK");
      return Internal(std::string("migration ") + migration.name + " failed: " + applied.message());
    }
    HM_RETURN_IF_ERROR(Exec(db_, "COMMIT"));
  }
  return Status::Ok();
}

Result<Repo> Registry::FindRepo(RepoType type, std::string_view name) {
  Statement s(*statements_, std::string("SELECT ") + kRepoColumns +
                                " FROM repos r WHERE r.type = ? AND r.name_lower = ?");
  s.Bind(1, RepoTypeName(type)).Bind(2, AsciiLower(name));
  if (!s.Step()) {
    if (!s.status().ok()) return s.status();
    return Status(StatusCode::kRepoNotFound, "Repository " + std::string(name) + " not found");
  }
  Repo repo;
  repo.id = s.Int(0);
  ParseRepoType(s.Text(1), &repo.type);
  repo.name = s.Text(2);
  repo.author = s.Text(3);
  repo.object_id = s.Text(4);
  repo.default_branch = s.Text(5);
  repo.created_at_ms = s.Int(6);
  repo.last_modified_ms = s.Int(7);
  repo.card_data_json = s.Text(8);
  repo.pipeline_tag = s.Text(9);
  repo.library_name = s.Text(10);
  repo.downloads = s.Int(11);
  repo.likes = s.Int(12);
  repo.is_private = s.Int(13) != 0;
  repo.gated = s.Text(14);
  return repo;
}

Result<std::vector<std::string>> Registry::RepoTags(const Repo& repo) {
  Statement s(*statements_, "SELECT tag FROM repo_tags WHERE repo_id = ? ORDER BY position");
  s.Bind(1, repo.id);
  std::vector<std::string> tags;
  while (s.Step()) tags.push_back(s.Text(0));
  if (!s.status().ok()) return s.status();
  return tags;
}

Result<Commit> Registry::ResolveRevision(const Repo& repo, std::string_view revision) {
  std::string wanted(revision == "HEAD" ? repo.default_branch : revision);
  Statement ref(*statements_,
                "SELECT commit_id FROM refs WHERE repo_id = ? AND name = ? "
                "ORDER BY kind = 'branch' DESC LIMIT 1");
  ref.Bind(1, repo.id).Bind(2, wanted);
  std::string commit_id;
  if (ref.Step()) {
    commit_id = ref.Text(0);
  } else if (!ref.status().ok()) {
    return ref.status();
  } else if (IsSha1Hex(wanted)) {
    commit_id = wanted;
  }
  if (!commit_id.empty()) {
    Statement s(*statements_, std::string("SELECT ") + kCommitColumns +
                                  " FROM commits c WHERE c.repo_id = ? AND c.id = ?");
    s.Bind(1, repo.id).Bind(2, commit_id);
    if (s.Step()) return ReadCommit(s);
    if (!s.status().ok()) return s.status();
  }
  return Status(StatusCode::kRevisionNotFound,
                "Invalid rev id: " + std::string(revision.substr(0, 255)));
}

Result<Registry::ResolvedFile> Registry::ResolveFile(RepoType type, std::string_view repo_name,
                                                     std::string_view revision,
                                                     std::string_view path) {
  {
    // The revision is a ref name (a branch before a tag; "HEAD" is the default branch) or, when
    // no ref has that name, a full commit id: the same rule as ResolveRevision.
    Statement s(
        *statements_,
        std::string("WITH target AS ("
                    "  SELECT r.id AS repo_id, COALESCE("
                    "    (SELECT f.commit_id FROM refs f WHERE f.repo_id = r.id AND f.name ="
                    "       CASE WHEN ?3 = 'HEAD' THEN r.default_branch ELSE ?3 END"
                    "     ORDER BY f.kind = 'branch' DESC LIMIT 1), ?3) AS commit_id"
                    "  FROM repos r WHERE r.type = ?1 AND r.name_lower = ?2) ") +
            kEntrySelect +
            "JOIN target t ON e.repo_id = t.repo_id AND e.commit_id = t.commit_id "
            "WHERE e.path = ?4");
    s.Bind(1, RepoTypeName(type)).Bind(2, AsciiLower(repo_name)).Bind(3, revision).Bind(4, path);
    if (s.Step()) {
      Entry entry = ReadEntryRow(s);
      return ResolvedFile{s.Text(kEntryColumnCount), std::move(entry)};
    }
    HM_RETURN_IF_ERROR(s.status());
  }
  // A miss: find out which part is missing.
  auto repo = FindRepo(type, repo_name);
  if (!repo.ok()) return repo.status();
  auto commit = ResolveRevision(*repo, revision);
  if (!commit.ok()) return commit.status();
  return ResolvedFile{commit->id, std::nullopt};
}

Result<std::vector<Entry>> Registry::ReadEntries(Statement& s) {
  std::vector<Entry> entries;
  while (s.Step()) entries.push_back(ReadEntryRow(s));
  if (!s.status().ok()) return s.status();
  return entries;
}

Result<std::vector<Entry>> Registry::ListEntries(const Repo& repo, const std::string& commit_id,
                                                 std::string_view directory) {
  if (directory.empty()) {
    Statement s(*statements_, std::string(kEntrySelect) +
                                  "WHERE e.repo_id = ? AND e.commit_id = ? ORDER BY e.path");
    s.Bind(1, repo.id).Bind(2, commit_id);
    return ReadEntries(s);
  }
  std::string prefix = std::string(directory) + "/";
  Statement s(*statements_,
              std::string(kEntrySelect) +
                  "WHERE e.repo_id = ? AND e.commit_id = ? AND e.path >= ? AND e.path < ? "
                  "ORDER BY e.path");
  s.Bind(1, repo.id).Bind(2, commit_id).Bind(3, prefix).Bind(4, PrefixUpperBound(prefix));
  return ReadEntries(s);
}

Result<std::optional<Entry>> Registry::FindEntry(const Repo& repo, const std::string& commit_id,
                                                 std::string_view path) {
  Statement s(*statements_,
              std::string(kEntrySelect) + "WHERE e.repo_id = ? AND e.commit_id = ? AND e.path = ?");
  s.Bind(1, repo.id).Bind(2, commit_id).Bind(3, path);
  auto entries = ReadEntries(s);
  if (!entries.ok()) return entries.status();
  if (entries->empty()) return std::optional<Entry>();
  return std::optional<Entry>(std::move(entries->front()));
}

Result<std::vector<Ref>> Registry::ListRefs(const Repo& repo) {
  Statement s(*statements_,
              "SELECT kind, name, commit_id FROM refs WHERE repo_id = ? ORDER BY kind, name");
  s.Bind(1, repo.id);
  std::vector<Ref> refs;
  while (s.Step()) refs.push_back(Ref{s.Text(0), s.Text(1), s.Text(2)});
  if (!s.status().ok()) return s.status();
  return refs;
}

Result<std::vector<Commit>> Registry::ListHistory(const Repo& repo, const std::string& head,
                                                  int64_t offset, int64_t limit, int64_t* total) {
  // Walks first parents with a recursive CTE; the depth bound guards against corrupt cycles.
  std::string chain =
      "WITH RECURSIVE chain(id, depth) AS ("
      "  SELECT ?2, 0"
      "  UNION ALL"
      "  SELECT c.parent_id, chain.depth + 1 FROM commits c JOIN chain ON c.id = chain.id"
      "  WHERE c.repo_id = ?1 AND c.parent_id IS NOT NULL AND c.parent_id != ''"
      "    AND chain.depth < 1000000) ";
  Statement count(*statements_, chain + "SELECT count(*) FROM chain");
  count.Bind(1, repo.id).Bind(2, head);
  if (!count.Step()) return count.status().ok() ? Internal("history count failed") : count.status();
  *total = count.Int(0);
  Statement s(*statements_, chain + "SELECT " + kCommitColumns +
                                " FROM chain JOIN commits c ON c.repo_id = ?1 AND c.id = chain.id "
                                "ORDER BY chain.depth LIMIT ?3 OFFSET ?4");
  s.Bind(1, repo.id).Bind(2, head).Bind(3, limit).Bind(4, offset);
  std::vector<Commit> commits;
  while (s.Step()) commits.push_back(ReadCommit(s));
  if (!s.status().ok()) return s.status();
  return commits;
}

Result<std::vector<Repo>> Registry::ListRepos(const RepoQuery& query) {
  static const std::map<std::string, std::string, std::less<>> kSortColumns = {
      {"id", "r.name_lower"},        {"lastModified", "r.last_modified"},
      {"createdAt", "r.created_at"}, {"downloads", "r.downloads"},
      {"likes", "r.likes"},          {"trendingScore", "r.likes"}};
  auto sort = kSortColumns.find(query.sort);
  if (sort == kSortColumns.end()) {
    return InvalidArgument("unknown sort key '" + query.sort.substr(0, 64) + "'");
  }
  std::string sql = "SELECT r.name FROM repos r WHERE r.type = ?";
  for (size_t i = 0; i < query.search.size(); ++i) sql += " AND r.name_lower LIKE ? ESCAPE '\\'";
  if (!query.author.empty()) sql += " AND lower(r.author) = ?";
  for (size_t i = 0; i < query.tags.size(); ++i) {
    sql += " AND EXISTS (SELECT 1 FROM repo_tags t WHERE t.repo_id = r.id AND t.tag = ?)";
  }
  sql += " ORDER BY " + sort->second + (query.descending ? " DESC" : " ASC") +
         ", r.name_lower ASC LIMIT ? OFFSET ?";
  Statement s(*statements_, sql);
  int index = 1;
  s.Bind(index++, RepoTypeName(query.type));
  for (const auto& term : query.search) s.Bind(index++, "%" + EscapeLike(AsciiLower(term)) + "%");
  if (!query.author.empty()) s.Bind(index++, AsciiLower(query.author));
  for (const auto& tag : query.tags) s.Bind(index++, tag);
  s.Bind(index, query.limit).Bind(index + 1, query.offset);
  std::vector<std::string> names;
  while (s.Step()) names.push_back(s.Text(0));
  if (!s.status().ok()) return s.status();
  std::vector<Repo> repos;
  for (const auto& name : names) {
    auto repo = FindRepo(query.type, name);
    if (!repo.ok()) return repo.status();
    repos.push_back(std::move(repo.value()));
  }
  return repos;
}

Result<std::vector<LineageEdge>> Registry::ParentEdges(std::string_view child) {
  Statement s(*statements_,
              "SELECT child, parent, relation, source, inferred FROM lineage_edges "
              "WHERE child_lower = ? ORDER BY parent_lower");
  s.Bind(1, AsciiLower(child));
  std::vector<LineageEdge> edges;
  while (s.Step()) {
    edges.push_back(LineageEdge{s.Text(0), s.Text(1), s.Text(2), s.Text(3), s.Int(4) != 0});
  }
  if (!s.status().ok()) return s.status();
  return edges;
}

namespace {

// Every edge reachable from ?1 in one direction, in one recursive query. The walk's rows are ids
// alone, so UNION expands each model once: merges (diamonds) cost nothing extra and cycles end.
std::string LineageWalkSql(bool up, bool by_relation) {
  std::string from = up ? "child_lower" : "parent_lower";
  std::string to = up ? "parent_lower" : "child_lower";
  std::string relation = by_relation ? " AND e.relation = ?2" : "";
  return "WITH RECURSIVE walk(id) AS (SELECT ?1 UNION SELECT e." + to +
         " FROM lineage_edges e JOIN walk w ON e." + from + " = w.id" + relation +
         ") SELECT e.child, e.parent, e.relation, e.source, e.inferred FROM lineage_edges e "
         "JOIN walk w ON e." +
         from + " = w.id" + relation;
}

// The edges of one model in one direction (for walks limited in depth).
std::string LineageStepSql(bool up, bool by_relation) {
  return std::string("SELECT child, parent, relation, source, inferred FROM lineage_edges WHERE ") +
         (up ? "child_lower" : "parent_lower") + " = ?1" +
         (by_relation ? " AND relation = ?2" : "");
}

}  // namespace

Result<LineageGraph> Registry::Lineage(std::string_view model, LineageDirection direction,
                                       int max_depth, std::string_view relation) {
  // Many small reads: one read transaction takes the database locks once for all of them.
  ReadSnapshot snapshot(*this);
  HM_RETURN_IF_ERROR(snapshot.status());
  if (lineage_index_ != nullptr) {
    auto generation = LineageGeneration();
    if (!generation.ok()) return generation.status();
    if (auto index = lineage_index_->Current(*generation)) {
      return index->Lineage(model, direction, max_depth, relation);
    }
  }
  std::unordered_set<std::string> seen;  // "child\nparent", lower-cased
  LineageGraph graph;
  auto take = [&](Statement& s) {
    LineageEdge edge{s.Text(0), s.Text(1), s.Text(2), s.Text(3), s.Int(4) != 0};
    if (seen.insert(AsciiLower(edge.child) + "\n" + AsciiLower(edge.parent)).second) {
      graph.edges.push_back(std::move(edge));
    }
  };
  for (bool up : {true, false}) {
    if ((up && direction == LineageDirection::kDown) ||
        (!up && direction == LineageDirection::kUp)) {
      continue;
    }
    if (max_depth <= 0) {
      Statement s(*statements_, LineageWalkSql(up, !relation.empty()));
      s.Bind(1, AsciiLower(model));
      if (!relation.empty()) s.Bind(2, relation);
      while (s.Step()) take(s);
      HM_RETURN_IF_ERROR(s.status());
      continue;
    }
    // Breadth first, one level per round, each model expanded once.
    Statement step(*statements_, LineageStepSql(up, !relation.empty()));
    std::set<std::string> visited = {AsciiLower(model)};
    std::vector<std::string> level = {AsciiLower(model)};
    for (int depth = 0; depth < max_depth && !level.empty(); ++depth) {
      std::vector<std::string> next;
      for (const auto& id : level) {
        step.Reset();
        step.Bind(1, id);
        if (!relation.empty()) step.Bind(2, relation);
        while (step.Step()) {
          std::string neighbour = AsciiLower(step.Text(up ? 1 : 0));
          take(step);
          if (visited.insert(neighbour).second) next.push_back(neighbour);
        }
        HM_RETURN_IF_ERROR(step.status());
      }
      level = std::move(next);
    }
  }
  {
    std::vector<std::pair<std::string, size_t>> keys;  // "child\nparent" lower-cased, position
    keys.reserve(graph.edges.size());
    for (size_t i = 0; i < graph.edges.size(); ++i) {
      keys.emplace_back(AsciiLower(graph.edges[i].child) + '\n' + AsciiLower(graph.edges[i].parent),
                        i);
    }
    std::sort(keys.begin(), keys.end());
    std::vector<LineageEdge> sorted;
    sorted.reserve(keys.size());
    for (const auto& key : keys) sorted.push_back(std::move(graph.edges[key.second]));
    graph.edges = std::move(sorted);
  }
  // Nodes: the model, then every id on an edge in lower-case order, with their details where
  // known. A model not described is spelt as the query spells it, else as the smallest spelling
  // the edges use.
  std::map<std::string, std::string> ids;  // lower -> spelling
  ids.emplace(AsciiLower(model), std::string(model));
  for (const auto& edge : graph.edges) {
    for (const std::string* id : {&edge.child, &edge.parent}) {
      auto [it, added] = ids.emplace(AsciiLower(*id), *id);
      if (!added && it->first != AsciiLower(model) && *id < it->second) it->second = *id;
    }
  }
  // Details come from the repos mirrored, else from what lineage sync recorded. Small graphs look
  // their models up; large ones read both tables once (far fewer rows than cards name) and join.
  constexpr size_t kScanAbove = 256;
  std::unordered_map<std::string, LineageNode> details;
  for (bool mirrored : {false, true}) {
    std::string table = mirrored ? "repos WHERE type = 'model'" : "lineage_models WHERE 1";
    Statement s(*statements_,
                "SELECT name_lower, name, pipeline_tag, library_name, downloads "
                "FROM " +
                    table + (ids.size() > kScanAbove ? "" : " AND name_lower = ?"));
    auto read = [&] {
      while (s.Step()) {
        details[s.Text(0)] = LineageNode{s.Text(1), mirrored, s.Text(2), s.Text(3), s.Int(4), true};
      }
      return s.status();
    };
    if (ids.size() > kScanAbove) {
      HM_RETURN_IF_ERROR(read());
      continue;
    }
    for (const auto& [lower, written] : ids) {
      s.Reset();
      s.Bind(1, lower);
      HM_RETURN_IF_ERROR(read());
    }
  }
  auto node_of = [&](const std::string& lower, const std::string& written) {
    auto found = details.find(lower);
    return found != details.end() ? found->second : LineageNode{written, false, "", "", 0, false};
  };
  graph.nodes.push_back(node_of(AsciiLower(model), std::string(model)));
  std::unordered_map<std::string, std::string> node_ids;  // lower -> the node's id
  node_ids[AsciiLower(model)] = graph.nodes.front().id;
  for (const auto& [lower, written] : ids) {
    if (lower == AsciiLower(model)) continue;
    graph.nodes.push_back(node_of(lower, written));
    node_ids[lower] = graph.nodes.back().id;
  }
  // Cards spell ids in any case: edges use the nodes' ids so that the two always join.
  for (auto& edge : graph.edges) {
    edge.child = node_ids[AsciiLower(edge.child)];
    edge.parent = node_ids[AsciiLower(edge.parent)];
  }
  FillLineageRoots(graph, direction, max_depth);
  return graph;
}

Result<FamilyStats> Registry::Family(std::string_view model) {
  ReadSnapshot snapshot(*this);
  HM_RETURN_IF_ERROR(snapshot.status());
  auto graph = Lineage(model, LineageDirection::kDown, 0, "");
  if (!graph.ok()) return graph.status();
  FamilyStats stats;
  stats.models = static_cast<int64_t>(graph->nodes.size());
  for (const auto& edge : graph->edges) ++stats.relations[edge.relation];
  Statement content(*statements_,
                    "SELECT DISTINCT e.sha256, e.size FROM repos r "
                    "JOIN refs f ON f.repo_id = r.id AND f.kind = 'branch' AND "
                    "f.name = r.default_branch "
                    "JOIN entries e ON e.repo_id = r.id AND e.commit_id = f.commit_id "
                    "WHERE r.type = 'model' AND r.name_lower = ? AND e.type = 'file' AND "
                    "e.sha256 IS NOT NULL");
  std::unordered_map<std::string, uint64_t> family_content;
  std::unordered_set<std::string> base_content, descendant_content;
  for (const auto& node : graph->nodes) {
    if (!node.mirrored) continue;
    ++stats.mirrored;
    bool base = &node == &graph->nodes.front();
    content.Reset();
    content.Bind(1, AsciiLower(node.id));
    while (content.Step()) {
      family_content[content.Text(0)] = static_cast<uint64_t>(content.Int(1));
      (base ? base_content : descendant_content).insert(content.Text(0));
    }
    HM_RETURN_IF_ERROR(content.status());
  }
  for (const auto& [sha256, size] : family_content) {
    stats.bytes_stored += size;
    if (base_content.contains(sha256) && descendant_content.contains(sha256)) {
      stats.bytes_shared_with_base += size;
    }
  }
  return stats;
}

Status Registry::ForEachLineageEdge(const std::function<void(const LineageEdge&)>& edge) {
  Statement s(*statements_, "SELECT child, parent, relation, source, inferred FROM lineage_edges");
  while (s.Step()) edge(LineageEdge{s.Text(0), s.Text(1), s.Text(2), s.Text(3), s.Int(4) != 0});
  return s.status();
}

Status Registry::ForEachModelDetails(const std::function<void(const LineageNode&)>& model) {
  for (bool mirrored : {false, true}) {
    Statement s(*statements_,
                std::string("SELECT name, pipeline_tag, library_name, downloads FROM ") +
                    (mirrored ? "repos WHERE type = 'model'" : "lineage_models"));
    while (s.Step()) {
      model(LineageNode{s.Text(0), mirrored, s.Text(1), s.Text(2), s.Int(3), true});
    }
    HM_RETURN_IF_ERROR(s.status());
  }
  return Status::Ok();
}

void Registry::UseLineageIndex(std::shared_ptr<LineageIndexCache> cache) {
  lineage_index_ = std::move(cache);
}

Status Registry::AddLineageEdges(const std::vector<LineageEdge>& edges) {
  HM_RETURN_IF_ERROR(Exec(db_, "BEGIN IMMEDIATE"));
  Statement s(*statements_, kUpsertLineageEdge);
  for (const auto& edge : edges) {
    s.Reset();
    BindLineageEdge(s, edge);
    if (Status inserted = s.Run(); !inserted.ok()) {
      Exec(db_, "ROLLBACK");
      return inserted;
    }
  }
  return Exec(db_, "COMMIT");
}

Result<std::map<std::string, int64_t>> Registry::ChildCountsByRelation(std::string_view parent) {
  Statement s(*statements_,
              "SELECT relation, count(*) FROM lineage_edges WHERE parent_lower = ? "
              "AND child_lower != parent_lower GROUP BY relation");
  s.Bind(1, AsciiLower(parent));
  std::map<std::string, int64_t> counts;
  while (s.Step()) counts[s.Text(0)] = s.Int(1);
  if (!s.status().ok()) return s.status();
  return counts;
}

Result<std::vector<BlobRecord>> Registry::ListBlobs(std::optional<RepoType> type,
                                                    std::string_view repo) {
  bool one_repo = type.has_value();
  Statement s(*statements_,
              one_repo
                  ? "SELECT b.sha256, b.size, b.git_sha1, b.state, MAX(e.lfs = 0) FROM repos r "
                    "JOIN entries e ON e.repo_id = r.id JOIN blobs b ON b.sha256 = e.sha256 "
                    "WHERE r.type = ? AND r.name_lower = ? GROUP BY b.sha256 "
                    "ORDER BY b.sha256"
                  : "SELECT b.sha256, b.size, b.git_sha1, b.state, g.sha256 IS NOT NULL "
                    "FROM blobs b LEFT JOIN (SELECT DISTINCT sha256 FROM entries "
                    "WHERE type = 'file' AND lfs = 0) g ON g.sha256 = b.sha256 "
                    "ORDER BY b.sha256");
  if (one_repo) s.Bind(1, RepoTypeName(*type)).Bind(2, AsciiLower(repo));
  std::vector<BlobRecord> blobs;
  while (s.Step()) {
    blobs.push_back(BlobRecord{s.Text(0), static_cast<uint64_t>(s.Int(1)), s.Text(2), s.Text(3),
                               s.Int(4) != 0});
  }
  if (!s.status().ok()) return s.status();
  return blobs;
}

Result<std::vector<std::pair<BlobUse, std::string>>> Registry::InconsistentFiles(
    std::optional<RepoType> type, std::string_view repo) {
  Statement s(*statements_,
              std::string("SELECT r.type, r.name, e.commit_id, e.path, e.size, e.sha256, b.size "
                          "FROM entries e JOIN repos r ON r.id = e.repo_id "
                          "LEFT JOIN blobs b ON b.sha256 = e.sha256 WHERE e.type = 'file' AND "
                          "(b.sha256 IS NULL OR b.size != e.size)") +
                  (type ? " AND r.type = ? AND r.name_lower = ?" : "") +
                  " ORDER BY r.name_lower, e.commit_id, e.path");
  if (type) s.Bind(1, RepoTypeName(*type)).Bind(2, AsciiLower(repo));
  std::vector<std::pair<BlobUse, std::string>> files;
  while (s.Step()) {
    RepoType file_type = RepoType::kModel;
    ParseRepoType(s.Text(0), &file_type);
    std::string problem = s.IsNull(6)
                              ? "no blob row for sha256 " + s.Text(5)
                              : "file is " + std::to_string(s.Int(4)) + " bytes, its blob " +
                                    s.Text(5) + " is " + std::to_string(s.Int(6));
    files.emplace_back(BlobUse{file_type, s.Text(1), s.Text(2), s.Text(3)}, std::move(problem));
  }
  if (!s.status().ok()) return s.status();
  return files;
}

Result<std::vector<BlobUse>> Registry::BlobUses(std::string_view sha256, size_t limit) {
  Statement s(*statements_,
              "SELECT r.type, r.name, e.commit_id, e.path FROM entries e "
              "JOIN repos r ON r.id = e.repo_id WHERE e.sha256 = ? "
              "ORDER BY r.name_lower, e.path, e.commit_id LIMIT ?");
  s.Bind(1, sha256).Bind(2, static_cast<int64_t>(limit));
  std::vector<BlobUse> uses;
  while (s.Step()) {
    RepoType type = RepoType::kModel;
    ParseRepoType(s.Text(0), &type);
    uses.push_back(BlobUse{type, s.Text(1), s.Text(2), s.Text(3)});
  }
  if (!s.status().ok()) return s.status();
  return uses;
}

Status Registry::SetBlobStates(const std::vector<std::pair<std::string, std::string>>& states) {
  HM_RETURN_IF_ERROR(Exec(db_, "BEGIN IMMEDIATE"));
  Statement s(*statements_, "UPDATE blobs SET state = ? WHERE sha256 = ?");
  for (const auto& [sha256, state] : states) {
    s.Reset();
    s.Bind(1, state).Bind(2, sha256);
    if (Status updated = s.Run(); !updated.ok()) {
      Exec(db_, "ROLLBACK");
      return updated;
    }
  }
  return Exec(db_, "COMMIT");
}

Status Registry::RecordModelDetails(const std::vector<ModelDetails>& models) {
  HM_RETURN_IF_ERROR(Exec(db_, "BEGIN IMMEDIATE"));
  Statement known(*statements_,
                  "INSERT INTO lineage_models (name_lower, name, pipeline_tag, library_name, "
                  "downloads, updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name_lower) DO "
                  "UPDATE SET name = excluded.name, pipeline_tag = excluded.pipeline_tag, "
                  "library_name = excluded.library_name, downloads = excluded.downloads, "
                  "updated_at = excluded.updated_at WHERE name != excluded.name OR "
                  "pipeline_tag != excluded.pipeline_tag OR library_name != "
                  "excluded.library_name OR downloads != excluded.downloads");
  Statement mirrored(*statements_,
                     "UPDATE repos SET downloads = ? WHERE type = 'model' AND name_lower = ? AND "
                     "downloads != ?");
  int64_t now = NowUnixMillis();
  for (const auto& model : models) {
    known.Reset();
    known.Bind(1, AsciiLower(model.id)).Bind(2, model.id).Bind(3, model.pipeline_tag);
    known.Bind(4, model.library_name).Bind(5, model.downloads).Bind(6, now);
    mirrored.Reset();
    mirrored.Bind(1, model.downloads).Bind(2, AsciiLower(model.id)).Bind(3, model.downloads);
    Status recorded = known.Run();
    if (recorded.ok()) recorded = mirrored.Run();
    if (!recorded.ok()) {
      Exec(db_, "ROLLBACK");
      return recorded;
    }
  }
  return Exec(db_, "COMMIT");
}

Result<int64_t> Registry::LineageGeneration() {
  Statement s(*statements_, "SELECT value FROM lineage_generation");
  if (!s.Step()) return s.status().ok() ? Internal("lineage_generation has no row") : s.status();
  return s.Int(0);
}

Result<bool> Registry::PublishRevision(const NewRevision& rev) {
  auto published = PublishRevisions({rev});
  if (!published.ok()) return published.status();
  return *published > 0;
}

Result<size_t> Registry::PublishRevisions(const std::vector<NewRevision>& revisions) {
  HM_RETURN_IF_ERROR(Exec(db_, "BEGIN IMMEDIATE"));
  bool committed = false;
  struct RollbackUnlessCommitted {
    sqlite3* db;
    bool* committed;
    ~RollbackUnlessCommitted() {
      if (!*committed) Exec(db, "ROLLBACK");
    }
  } guard{db_, &committed};
  size_t changed = 0;
  for (const auto& revision : revisions) {
    auto published = PublishInTransaction(revision);
    if (!published.ok()) return published.status();
    changed += *published ? 1 : 0;
  }
  HM_RETURN_IF_ERROR(Exec(db_, "COMMIT"));
  committed = true;
  return changed;
}

Result<bool> Registry::PublishInTransaction(const NewRevision& rev) {
  const std::string name_lower = AsciiLower(rev.repo_name);
  const std::string author = rev.repo_name.substr(0, rev.repo_name.find('/'));
  const int64_t now = NowUnixMillis();
  {
    Statement s(*statements_,
                "INSERT INTO repos (type, name, name_lower, author, object_id, default_branch, "
                "created_at, last_modified) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (type, name_lower) DO NOTHING");
    s.Bind(1, RepoTypeName(rev.type)).Bind(2, rev.repo_name).Bind(3, name_lower).Bind(4, author);
    s.Bind(5, MakeObjectId(rev.type, name_lower, now))
        .Bind(6, !rev.default_branch.empty() ? rev.default_branch
                 : rev.branch.empty()        ? "main"
                                             : rev.branch)
        .Bind(7, now)
        .Bind(8, now);
    HM_RETURN_IF_ERROR(s.Run());
  }
  int64_t repo_id = 0;
  bool default_branch = false;
  {
    Statement s(*statements_,
                "SELECT id, default_branch FROM repos WHERE type = ? AND name_lower = ?");
    s.Bind(1, RepoTypeName(rev.type)).Bind(2, name_lower);
    if (!s.Step()) return s.status().ok() ? Internal("repo row vanished") : s.status();
    repo_id = s.Int(0);
    default_branch = !rev.branch.empty() && s.Text(1) == rev.branch;
  }
  bool unchanged = false;
  {
    Statement s(*statements_,
                "SELECT commit_id FROM refs WHERE repo_id = ? AND kind = 'branch' AND name = ?");
    s.Bind(1, repo_id).Bind(2, rev.branch);
    unchanged = s.Step() && s.Text(0) == rev.commit.id;
    HM_RETURN_IF_ERROR(s.status());
  }
  if (rev.branch.empty()) {  // a commit without a ref: unchanged when already stored
    Statement s(*statements_, "SELECT 1 FROM commits WHERE repo_id = ? AND id = ?");
    s.Bind(1, repo_id).Bind(2, rev.commit.id);
    unchanged = s.Step();
    HM_RETURN_IF_ERROR(s.status());
  }
  {
    Statement s(*statements_,
                "INSERT INTO blobs (sha256, size, git_sha1) VALUES (?, ?, ?) "
                // Content stored again (a repair) was verified on the way in.
                "ON CONFLICT (sha256) DO UPDATE SET state = 'ok', git_sha1 = "
                "CASE WHEN excluded.git_sha1 != '' THEN excluded.git_sha1 ELSE blobs.git_sha1 END");
    for (const auto& blob : rev.blobs) {
      s.Reset();
      s.Bind(1, blob.sha256).Bind(2, static_cast<int64_t>(blob.size)).Bind(3, blob.git_sha1);
      HM_RETURN_IF_ERROR(s.Run());
    }
  }
  if (unchanged) return false;  // only blobs stored again (repaired) to record
  {
    Statement s(*statements_,
                "INSERT INTO commits (repo_id, id, parent_id, tree_id, title, message, author, "
                "date, card_data, tags, pipeline_tag, library_name) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING");
    const Commit& c = rev.commit;
    s.Bind(1, repo_id).Bind(2, c.id);
    if (c.parent_id.empty()) {
      s.BindNull(3);
    } else {
      s.Bind(3, c.parent_id);
    }
    s.Bind(4, c.tree_id).Bind(5, c.title).Bind(6, c.message).Bind(7, c.author).Bind(8, c.date_ms);
    if (c.card_data_json.empty()) {
      s.BindNull(9);
    } else {
      s.Bind(9, c.card_data_json);
    }
    s.Bind(10,
           nlohmann::json(c.tags).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    s.Bind(11, c.pipeline_tag).Bind(12, c.library_name);
    HM_RETURN_IF_ERROR(s.Run());
  }
  {
    Statement s(*statements_,
                "INSERT INTO entries (repo_id, commit_id, path, type, size, git_oid, sha256, lfs, "
                "pointer_size, last_commit_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING");
    for (const auto& e : rev.entries) {
      s.Reset();
      s.Bind(1, repo_id).Bind(2, rev.commit.id).Bind(3, e.path);
      s.Bind(4, e.is_directory ? "directory" : "file").Bind(5, static_cast<int64_t>(e.size));
      s.Bind(6, e.git_oid);
      if (e.sha256.empty()) {
        s.BindNull(7);
      } else {
        s.Bind(7, e.sha256);
      }
      s.Bind(8, e.lfs ? 1 : 0).Bind(9, static_cast<int64_t>(e.pointer_size));
      s.Bind(10, e.last_commit_id);
      HM_RETURN_IF_ERROR(s.Run());
    }
  }
  if (!rev.branch.empty()) {
    Statement s(*statements_,
                "INSERT INTO refs (repo_id, kind, name, commit_id) VALUES (?, 'branch', ?, ?) "
                "ON CONFLICT (repo_id, kind, name) DO UPDATE SET commit_id = excluded.commit_id");
    s.Bind(1, repo_id).Bind(2, rev.branch).Bind(3, rev.commit.id);
    HM_RETURN_IF_ERROR(s.Run());
  }
  // The default branch's card is the repo's: what listings filter on and what lineage records.
  if (default_branch) {
    {
      Statement s(*statements_,
                  "UPDATE repos SET last_modified = ?, card_data = ?, pipeline_tag = ?, "
                  "library_name = ? WHERE id = ?");
      s.Bind(1, rev.commit.date_ms);
      if (rev.commit.card_data_json.empty()) {
        s.BindNull(2);
      } else {
        s.Bind(2, rev.commit.card_data_json);
      }
      s.Bind(3, rev.commit.pipeline_tag).Bind(4, rev.commit.library_name).Bind(5, repo_id);
      HM_RETURN_IF_ERROR(s.Run());
    }
    {
      Statement clear(*statements_, "DELETE FROM repo_tags WHERE repo_id = ?");
      clear.Bind(1, repo_id);
      HM_RETURN_IF_ERROR(clear.Run());
      int64_t position = 0;
      Statement s(*statements_,
                  "INSERT INTO repo_tags (repo_id, position, tag) VALUES (?, ?, ?) "
                  "ON CONFLICT DO NOTHING");
      for (const auto& tag : rev.commit.tags) {
        s.Reset();
        s.Bind(1, repo_id).Bind(2, position++).Bind(3, tag);
        HM_RETURN_IF_ERROR(s.Run());
      }
    }
    {
      Statement clear(*statements_,
                      "DELETE FROM lineage_edges WHERE child_lower = ? AND "
                      "source IN ('card', 'baseModels')");
      clear.Bind(1, name_lower);
      HM_RETURN_IF_ERROR(clear.Run());
      Statement s(*statements_, kUpsertLineageEdge);
      for (const auto& edge : rev.lineage) {
        s.Reset();
        BindLineageEdge(s, edge);
        HM_RETURN_IF_ERROR(s.Run());
      }
    }
  }
  return true;
}

}  // namespace hubmirror::registry
