#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "registry/registry.h"
#include "tests/support/temp_dir.h"

// The registry's tests live in this namespace too, where these helpers need no qualification.
namespace hubmirror::registry::testing {

using hubmirror::testing::TempDir;

// Opens (creating) the registry of `dir`; fails the test when it cannot.
std::unique_ptr<Registry> OpenRegistry(const TempDir& dir);

// A file entry with this content, as an import of commit `commit` makes it.
Entry File(const std::string& path, const std::string& content, const std::string& commit,
           bool lfs = false);

// A revision of `repo` on branch main, with a blob row for each file.
NewRevision Revision(const std::string& repo, const std::string& commit_id,
                     const std::string& parent_id, std::vector<Entry> entries);

// Runs `sql` on the database file through a connection of its own, as another process would.
void ExecSql(const std::filesystem::path& db_path, const std::string& sql);
// The same for `sql` that may fail: SQLite's error message, empty when it succeeded.
std::string ExecSqlError(const std::filesystem::path& db_path, const std::string& sql);

}  // namespace hubmirror::registry::testing
