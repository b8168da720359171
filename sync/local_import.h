#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "common/names.h"
#include "common/status.h"
#include "registry/registry.h"
#include "storage/blob_store.h"

namespace hubmirror::sync {

struct ImportOptions {
  RepoType type = RepoType::kModel;
  std::string repo;  // "namespace/name"
  std::string branch = "main";
  // Tags created at the imported commit (or at the branch head when the tree is unchanged).
  std::vector<std::string> tags;
  std::filesystem::path source;
};

struct ImportReport {
  std::string commit_id;
  bool created_commit = false;  // false when the tree equals the branch head's
  size_t files = 0;
  uint64_t bytes = 0;
  std::vector<std::string> warnings;  // e.g. invalid base_model ids skipped
};

// kInvalidArgument unless the repo id, the branch and the tag names are valid: checked by
// ImportFolder too, and by callers that must refuse a usage before touching anything.
Status ValidateImportOptions(const ImportOptions& options);

// Imports a local folder as a new commit on a branch, creating the repo if needed, and tags it
// as asked. The whole folder is checked first (names, symlinks, file types, README front
// matter), and the tag names: any problem refuses the import with kInvalidArgument and changes
// nothing; a tag that already points at another commit refuses it with kAlreadyExists. Then every
// file is streamed into the store (hashed once) and the revision is published in one registry
// transaction. `.git` directories are not content and are left out. Symlinks are followed when
// their target is a regular file inside the folder. The commit id is the git commit id of the same
// tree.
Result<ImportReport> ImportFolder(storage::BlobStore& store, registry::Registry& registry,
                                  const ImportOptions& options);

}  // namespace hubmirror::sync
