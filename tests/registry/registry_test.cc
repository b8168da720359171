#include "registry/registry.h"

#include <sqlite3.h>

#include <catch2/catch.hpp>

#include "common/digest.h"
#include "migrations/embedded_migrations.h"
#include "registry/sqlite.h"
#include "tests/registry/registry_test_support.h"

namespace hubmirror::registry::testing {
namespace {

TEST_CASE("migrations bring a new database to the latest version", "[migrations]") {
  TempDir dir;
  auto latest = migrations::EmbeddedMigrations().back().version;
  CHECK(OpenRegistry(dir)->SchemaVersion() == latest);
  // Reopening applies nothing and keeps the data.
  auto registry = OpenRegistry(dir);
  REQUIRE(registry->PublishRevision(Revision("acme/m", std::string(40, 'a'), "", {})).ok());
  registry.reset();
  CHECK(OpenRegistry(dir)->FindRepo(RepoType::kModel, "acme/m").ok());
}

TEST_CASE("migrations are versioned from 1 without gaps", "[migrations]") {
  int expected = 1;
  for (const auto& migration : migrations::EmbeddedMigrations()) {
    CHECK(migration.version == expected++);
  }
}

TEST_CASE("a database newer than the binary is refused with a clear error", "[migrations]") {
  TempDir dir;
  OpenRegistry(dir);
  ExecSql(dir / "registry.db", "PRAGMA user_version = 999");
  auto registry = Registry::Open(dir / "registry.db", Registry::Mode::kReadWrite);
  REQUIRE_FALSE(registry.ok());
  CHECK(registry.status().code() == StatusCode::kFailedPrecondition);
  CHECK_THAT(registry.status().message(), Catch::Contains("999"));
  CHECK_THAT(registry.status().message(), Catch::Contains("registry.db"));
  auto reader = Registry::Open(dir / "registry.db", Registry::Mode::kReadOnly);
  CHECK_FALSE(reader.ok());
}

TEST_CASE("a failing migration leaves the database untouched", "[migrations]") {
  TempDir dir;
  // A table that collides with the first migration makes it fail half-way.
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open((dir / "registry.db").c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, "CREATE TABLE refs (x)", nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
  auto registry = Registry::Open(dir / "registry.db", Registry::Mode::kReadWrite);
  REQUIRE_FALSE(registry.ok());
  CHECK_THAT(registry.status().message(), Catch::Contains("0001_init.sql"));
  REQUIRE(sqlite3_open((dir / "registry.db").c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master WHERE name = 'repos'", -1, &stmt,
                     nullptr);
  REQUIRE(sqlite3_step(stmt) == SQLITE_ROW);
  CHECK(sqlite3_column_int(stmt, 0) == 0);  // the migration's first table was rolled back
  sqlite3_finalize(stmt);
  sqlite3_close(db);
}

TEST_CASE("a write transaction commits, or rolls back unless committed", "[registry]") {
  TempDir dir;
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open((dir / "t.db").c_str(), &db) == SQLITE_OK);
  REQUIRE(Exec(db, "CREATE TABLE t (x)").ok());
  {
    StatementCache cache(db);
    auto rows = [&] {
      Statement s(cache, "SELECT count(*) FROM t");
      REQUIRE(s.Step());
      return s.Int(0);
    };
    {
      WriteTransaction abandoned(db);
      REQUIRE(abandoned.Begin().ok());
      REQUIRE(Exec(db, "INSERT INTO t VALUES (1)").ok());
    }
    CHECK(rows() == 0);
    CHECK(sqlite3_get_autocommit(db) != 0);
    {
      WriteTransaction transaction(db);
      CHECK_FALSE(transaction.Commit().ok());  // not begun
      REQUIRE(transaction.Begin().ok());
      WriteTransaction nested(db);
      CHECK_FALSE(nested.Begin().ok());
      REQUIRE(Exec(db, "INSERT INTO t VALUES (1)").ok());
      REQUIRE(transaction.Commit().ok());
      CHECK_FALSE(transaction.Commit().ok());
    }
    CHECK(rows() == 1);
    {
      WriteTransaction transaction(db);
      REQUIRE(transaction.Begin().ok());
      REQUIRE(Exec(db, "INSERT INTO t VALUES (2)").ok());
      REQUIRE(transaction.Rollback().ok());
      CHECK(sqlite3_get_autocommit(db) != 0);
      CHECK(transaction.Rollback().ok());  // nothing left to undo
    }
    CHECK(rows() == 1);
    // Begin takes the write lock, not the first write: no other connection can begin meanwhile.
    sqlite3* other = nullptr;
    REQUIRE(sqlite3_open((dir / "t.db").c_str(), &other) == SQLITE_OK);
    {
      WriteTransaction first(db);
      REQUIRE(first.Begin().ok());
      WriteTransaction second(other);
      CHECK_FALSE(second.Begin().ok());
    }
    WriteTransaction after(other);
    CHECK(after.Begin().ok());
    CHECK(after.Commit().ok());
    sqlite3_close(other);
  }
  sqlite3_close(db);
}

TEST_CASE("read-only connections refuse writes", "[registry]") {
  TempDir dir;
  OpenRegistry(dir);
  auto reader = Registry::Open(dir / "registry.db", Registry::Mode::kReadOnly);
  REQUIRE(reader.ok());
  CHECK_FALSE((*reader)->PublishRevision(Revision("acme/m", std::string(40, 'a'), "", {})).ok());
}

TEST_CASE("publishing and resolving revisions", "[registry]") {
  TempDir dir;
  auto registry = OpenRegistry(dir);
  std::string c1(40, '1');
  std::string c2(40, '2');
  REQUIRE(registry
              ->PublishRevision(Revision("Acme/Model", c1, "",
                                         {File("config.json", "{}", c1),
                                          File("w/model.safetensors", "weights", c1, true)}))
              .value());
  auto repo = registry->FindRepo(RepoType::kModel, "acme/model");  // case-insensitive
  REQUIRE(repo.ok());
  CHECK(repo->name == "Acme/Model");
  CHECK(repo->author == "Acme");
  CHECK(IsLowerHex(repo->object_id, 24));
  CHECK(registry->FindRepo(RepoType::kDataset, "acme/model").status().code() ==
        StatusCode::kRepoNotFound);

  CHECK(registry->ResolveRevision(*repo, "main")->id == c1);
  CHECK(registry->ResolveRevision(*repo, "HEAD")->id == c1);
  CHECK(registry->ResolveRevision(*repo, c1)->id == c1);
  CHECK(registry->ResolveRevision(*repo, "nope").status().code() == StatusCode::kRevisionNotFound);
  CHECK(registry->ResolveRevision(*repo, std::string(40, 'f')).status().code() ==
        StatusCode::kRevisionNotFound);

  // Publishing the same head again changes nothing.
  CHECK_FALSE(registry->PublishRevision(Revision("Acme/Model", c1, "", {})).value());

  REQUIRE(registry->PublishRevision(Revision("Acme/Model", c2, c1, {File("config.json", "{}", c1)}))
              .value());
  CHECK(registry->ResolveRevision(*repo, "main")->id == c2);
  // The old commit stays readable by id, with its files.
  REQUIRE(registry->ResolveRevision(*repo, c1).ok());
  CHECK(registry->ListEntries(*repo, c1, "")->size() == 2);
  CHECK(registry->ListEntries(*repo, c2, "")->size() == 1);

  auto weights = registry->FindEntry(*repo, c1, "w/model.safetensors");
  REQUIRE(weights.ok());
  REQUIRE(weights->has_value());
  CHECK((*weights)->lfs);
  CHECK((*weights)->pointer_size == LfsPointer((*weights)->sha256, 7).size());
  CHECK((*weights)->last_commit_title == "title " + c1);
  CHECK_FALSE(registry->FindEntry(*repo, c2, "w/model.safetensors")->has_value());

  int64_t total = 0;
  auto history = registry->ListHistory(*repo, c2, 0, 10, &total);
  REQUIRE(history.ok());
  CHECK(total == 2);
  REQUIRE(history->size() == 2);
  CHECK((*history)[0].id == c2);
  CHECK((*history)[1].id == c1);
  auto second_page = registry->ListHistory(*repo, c2, 1, 1, &total);
  REQUIRE(second_page->size() == 1);
  CHECK((*second_page)[0].id == c1);

  auto refs = registry->ListRefs(*repo);
  REQUIRE(refs->size() == 1);
  CHECK((*refs)[0].kind == RefKind::kBranch);
  CHECK((*refs)[0].commit_id == c2);
}

TEST_CASE("revisions resolve tags, and a branch wins over a tag of the same name", "[registry]") {
  TempDir dir;
  std::string c1(40, '1');
  std::string c2(40, '2');
  {
    auto registry = OpenRegistry(dir);
    REQUIRE(registry->PublishRevision(Revision("acme/m", c1, "", {File("a", "1", c1)})).ok());
    NewRevision next = Revision("acme/m", c2, c1, {File("a", "2", c2)});
    next.ref = RefName{RefKind::kBranch, "v1"};
    REQUIRE(registry->PublishRevision(next).ok());
    NewRevision tagged = Revision("acme/m", c1, "", {File("a", "1", c1)});
    tagged.ref.reset();
    tagged.tags = {"release", "v1"};
    REQUIRE(registry->PublishRevision(tagged).ok());
  }

  auto registry = OpenRegistry(dir);
  auto repo = registry->FindRepo(RepoType::kModel, "acme/m");
  CHECK(registry->ResolveRevision(*repo, "release")->id == c1);
  CHECK(registry->ResolveRevision(*repo, "v1")->id == c2);
  auto file = registry->ResolveFile(RepoType::kModel, "acme/m", "release", "a");
  REQUIRE(file.ok());
  CHECK(file->commit_id == c1);
  CHECK(registry->ResolveFile(RepoType::kModel, "acme/m", "v1", "a")->commit_id == c2);
  auto refs = registry->ListRefs(*repo);
  REQUIRE(refs->size() == 4);
  // Branches, then tags, each by name.
  CHECK((*refs)[0].kind == RefKind::kBranch);
  CHECK((*refs)[1].kind == RefKind::kBranch);
  CHECK((*refs)[1].name == "v1");
  CHECK((*refs)[2].kind == RefKind::kTag);
  CHECK((*refs)[2].name == "release");
  CHECK((*refs)[3].kind == RefKind::kTag);
}

TEST_CASE("ref kinds and blob states name their stored text", "[registry]") {
  for (RefKind kind : {RefKind::kBranch, RefKind::kTag, RefKind::kPullRequest, RefKind::kConvert}) {
    RefKind parsed = kind == RefKind::kTag ? RefKind::kBranch : RefKind::kTag;
    REQUIRE(ParseRefKind(RefKindName(kind), &parsed));
    CHECK(parsed == kind);
  }
  CHECK(RefKindName(RefKind::kTag) == "tag");
  for (BlobState state : {BlobState::kOk, BlobState::kCorrupt, BlobState::kMissing}) {
    BlobState parsed = state == BlobState::kOk ? BlobState::kMissing : BlobState::kOk;
    REQUIRE(ParseBlobState(BlobStateName(state), &parsed));
    CHECK(parsed == state);
  }
  CHECK(BlobStateName(BlobState::kCorrupt) == "corrupt");
  RefKind kind = RefKind::kBranch;
  CHECK_FALSE(ParseRefKind("Branch", &kind));
  BlobState state = BlobState::kOk;
  CHECK_FALSE(ParseBlobState("", &state));
  CHECK(state == BlobState::kOk);
}

TEST_CASE("ResolveFile tells which part of a download is missing", "[registry]") {
  TempDir dir;
  auto registry = OpenRegistry(dir);
  std::string c(40, 'c');
  REQUIRE(registry->PublishRevision(Revision("acme/m", c, "", {File("a/b", "x", c)})).ok());
  CHECK(registry->ResolveFile(RepoType::kModel, "acme/m", "HEAD", "a/b")->entry->path == "a/b");
  CHECK(registry->ResolveFile(RepoType::kModel, "ACME/M", c, "a/b")->entry.has_value());
  CHECK(registry->ResolveFile(RepoType::kModel, "acme/x", "main", "a/b").status().code() ==
        StatusCode::kRepoNotFound);
  CHECK(registry->ResolveFile(RepoType::kModel, "acme/m", "dev", "a/b").status().code() ==
        StatusCode::kRevisionNotFound);
  auto missing = registry->ResolveFile(RepoType::kModel, "acme/m", "main", "a/c");
  REQUIRE(missing.ok());
  CHECK_FALSE(missing->entry.has_value());
  CHECK(missing->commit_id == c);
}

TEST_CASE("A read-only connection's remembered files follow every commit", "[registry]") {
  TempDir dir;
  auto writer = OpenRegistry(dir);
  std::string c1(40, '1'), c2(40, '2');
  REQUIRE(writer->PublishRevision(Revision("acme/m", c1, "", {File("a", "v1", c1)})).ok());
  auto reader = Registry::Open(dir / "registry.db", Registry::Mode::kReadOnly);
  REQUIRE(reader.ok());
  auto resolve = [&] { return (*reader)->ResolveFile(RepoType::kModel, "acme/m", "main", "a"); };
  CHECK(resolve()->commit_id == c1);
  // A write that bypasses the registry (and so its change counter) goes unseen: the answer is
  // the remembered one.
  ExecSql(dir / "registry.db", "UPDATE blobs SET state = 'corrupt'");
  CHECK(resolve()->entry->blob_state == BlobState::kOk);
  // Any commit through a registry, from any connection, is seen by the next request.
  REQUIRE(writer->PublishRevision(Revision("acme/m", c2, c1, {File("a", "v2", c2)})).ok());
  CHECK(resolve()->commit_id == c2);
  REQUIRE(writer->SetBlobStates({{File("a", "v2", c2).sha256, BlobState::kMissing}}).ok());
  CHECK(resolve()->entry->blob_state == BlobState::kMissing);
}

TEST_CASE("entries under a directory use a prefix range, not a LIKE", "[registry]") {
  TempDir dir;
  auto registry = OpenRegistry(dir);
  std::string c(40, 'c');
  REQUIRE(
      registry
          ->PublishRevision(Revision("acme/m", c, "",
                                     {File("a/x", "1", c), File("a/y/z", "2", c),
                                      File("a%b", "3", c), File("a_", "4", c), File("ab", "5", c)}))
          .ok());
  auto repo = registry->FindRepo(RepoType::kModel, "acme/m");
  auto under_a = registry->ListEntries(*repo, c, "a");
  REQUIRE(under_a.ok());
  REQUIRE(under_a->size() == 2);
  CHECK((*under_a)[0].path == "a/x");
  CHECK((*under_a)[1].path == "a/y/z");
}

TEST_CASE("listing filters by search, author and tags, sorts and pages", "[registry]") {
  TempDir dir;
  auto registry = OpenRegistry(dir);
  auto publish = [&](const std::string& name, std::vector<std::string> tags, char commit) {
    NewRevision rev = Revision(name, std::string(40, commit), "", {});
    rev.commit.tags = std::move(tags);
    REQUIRE(registry->PublishRevision(rev).ok());
  };
  publish("acme/base", {"license:mit"}, '1');
  publish("acme/child", {"base_model:acme/base", "base_model:finetune:acme/base"}, '2');
  publish("other/quant", {"gguf", "base_model:acme/child", "base_model:quantized:acme/child"}, '3');
  publish("other/100%_sure", {}, '4');

  auto names = [&](RepoQuery query) {
    std::vector<std::string> out;
    auto repos = registry->ListRepos(query);
    REQUIRE(repos.ok());
    for (const auto& repo : *repos) out.push_back(repo.name);
    return out;
  };
  RepoQuery query;
  CHECK(names(query) ==
        std::vector<std::string>{"acme/base", "acme/child", "other/100%_sure", "other/quant"});
  query.search = {"CHI"};
  CHECK(names(query) == std::vector<std::string>{"acme/child"});
  query.search = {"%"};
  CHECK(names(query) == std::vector<std::string>{"other/100%_sure"});
  query.search = {};
  query.author = "Other";
  CHECK(names(query).size() == 2);
  query.author = "";
  query.tags = {"base_model:acme/base"};
  CHECK(names(query) == std::vector<std::string>{"acme/child"});
  query.tags = {"base_model:quantized:acme/child", "gguf"};
  CHECK(names(query) == std::vector<std::string>{"other/quant"});
  query.tags = {"base_model:quantized:acme/child", "license:mit"};
  CHECK(names(query).empty());
  query.tags = {};
  query.descending = true;
  query.limit = 2;
  query.offset = 1;
  CHECK(names(query) == std::vector<std::string>{"other/100%_sure", "acme/child"});
  query.sort = "bogus";
  CHECK(registry->ListRepos(query).status().code() == StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace hubmirror::registry::testing
