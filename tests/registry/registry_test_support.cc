#include "tests/registry/registry_test_support.h"

#include <sqlite3.h>

#include <catch2/catch.hpp>

#include "common/digest.h"

namespace hubmirror::registry::testing {

std::unique_ptr<Registry> OpenRegistry(const TempDir& dir) {
  auto registry = Registry::Open(dir / "registry.db", Registry::Mode::kReadWrite);
  REQUIRE(registry.ok());
  return std::move(registry.value());
}

Entry File(const std::string& path, const std::string& content, const std::string& commit,
           bool lfs) {
  Entry e;
  e.path = path;
  e.size = content.size();
  e.sha256 = Sha256Hex(content);
  e.git_oid =
      lfs ? GitObjectId("blob", LfsPointer(e.sha256, e.size)) : GitObjectId("blob", content);
  e.lfs = lfs;
  e.pointer_size = lfs ? LfsPointer(e.sha256, e.size).size() : 0;
  e.last_commit_id = commit;
  return e;
}

NewRevision Revision(const std::string& repo, const std::string& commit_id,
                     const std::string& parent_id, std::vector<Entry> entries) {
  NewRevision rev;
  rev.repo_name = repo;
  rev.ref = RefName{RefKind::kBranch, "main"};
  rev.commit.id = commit_id;
  rev.commit.parent_id = parent_id;
  rev.commit.tree_id = Sha1Hex("tree" + commit_id);
  rev.commit.title = "title " + commit_id;
  rev.commit.message = "message\n";
  rev.commit.author = "tester";
  rev.commit.date_ms = 1700000000000;
  for (const auto& e : entries) {
    if (!e.is_directory) rev.blobs.push_back(BlobRow{e.sha256, e.size, e.git_oid});
  }
  rev.entries = std::move(entries);
  return rev;
}

void ExecSql(const std::filesystem::path& db_path, const std::string& sql) {
  std::string error = ExecSqlError(db_path, sql);
  INFO(sql << ": " << error);
  REQUIRE(error.empty());
}

std::string ExecSqlError(const std::filesystem::path& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(db_path.c_str(), &db) == SQLITE_OK);
  char* error = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  std::string message = rc == SQLITE_OK ? "" : error != nullptr ? error : sqlite3_errstr(rc);
  sqlite3_free(error);
  sqlite3_close(db);
  return message;
}

}  // namespace hubmirror::registry::testing
