#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace hubmirror::sync {

// A file as git sees it in a tree: its path and the id of its blob (for LFS files, the pointer's).
struct GitTreeFile {
  std::string path;
  std::string blob_id;
};

struct GitTrees {
  std::string root_id;
  std::map<std::string, std::string> directory_ids;  // "a/b" -> tree id, root excluded
};

// Computes the git tree objects for a set of files exactly as git would (mode 100644 for files,
// entries ordered with directories compared as "name/"), so ids match `git write-tree`.
GitTrees BuildGitTrees(const std::vector<GitTreeFile>& files);

// The id of a git commit object with one author/committer line (UTC) and an optional parent.
std::string GitCommitId(const std::string& tree_id, const std::string& parent_id,
                        const std::string& identity, int64_t unix_seconds,
                        const std::string& message);

}  // namespace hubmirror::sync
