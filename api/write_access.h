#pragma once

#include <optional>
#include <string>

#include "api/handler_support.h"

namespace hubmirror::api {

// Who may publish, shared by the publishing routes (repos, commits, refs) and LFS uploads.

// 401 for anonymous callers, 403 for a read-only token, 503 on a server without a publisher;
// nullopt when the caller may write at all.
std::optional<Response> WriterRefusal(const RequestContext& context);

// What a write changes of a repo: its content, on one ref (a commit to a branch, a branch or tag
// made or removed) or on none yet (preupload, LFS uploads); or the repo as a whole (delete, move).
struct WriteScope {
  std::string ref;  // the branch or tag written; empty when none
  bool whole_repo = false;
};

// The repo a write names, or nullopt with the refusal in `refusal`: WriterRefusal's, then 404 for
// a repo the caller cannot see (exactly as a missing one), 403 without the right to manage it, 403
// for a repo mirrored from an upstream, whose content must stay the upstream's. A mirrored repo
// whose rule says `writable` takes writes to refs the mirror does not sync (403 for one it does,
// and for a write to the whole repo).
std::optional<registry::Repo> WritableRepo(const RequestContext& context, RepoType type,
                                           const std::string& name, Response* refusal,
                                           const WriteScope& scope = {});

// 403 when `adding` more bytes would take the repo's namespace over its publishing quota
// (PublishLimits), with what it uses and may use; nullopt when within it, or without a quota.
std::optional<Response> QuotaRefusal(const RequestContext& context, const registry::Repo& repo,
                                     uint64_t adding);
// The same for namespace `space`, which uses `used` bytes, when `what` adds `adding`.
std::optional<Response> QuotaRefusal(const RequestContext& context, const std::string& space,
                                     uint64_t used, uint64_t adding, const std::string& what);

// Whether the caller may name content by its digest alone, without uploading it: some file they
// can read uses it. Content nobody may show them is never theirs to claim by a guessed digest.
Result<bool> MayReferenceContent(const RequestContext& context, const std::string& sha256);

}  // namespace hubmirror::api
