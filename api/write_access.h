#pragma once

#include <optional>
#include <string>

#include "api/handler_support.h"

namespace hubmirror::api {

// Who may publish, shared by the publishing routes (repos, commits, refs) and LFS uploads.

// 401 for anonymous callers, 403 for a read-only token, 503 on a server without a publisher;
// nullopt when the caller may write at all.
std::optional<Response> WriterRefusal(const RequestContext& context);

// The repo a write names, or nullopt with the refusal in `refusal`: WriterRefusal's, then 404 for
// a repo the caller cannot see (exactly as a missing one), 403 without the right to manage it, 403
// for a repo mirrored from an upstream, whose content must stay the upstream's.
std::optional<registry::Repo> WritableRepo(const RequestContext& context, RepoType type,
                                           const std::string& name, Response* refusal);

// 403 when `adding` more bytes would take the repo's namespace over its publishing quota
// (PublishQuotas), with what it uses and may use; nullopt when within it, or without a quota.
std::optional<Response> QuotaRefusal(const RequestContext& context, const registry::Repo& repo,
                                     uint64_t adding);

// Whether the caller may name content by its digest alone, without uploading it: some file they
// can read uses it. Content nobody may show them is never theirs to claim by a guessed digest.
Result<bool> MayReferenceContent(const RequestContext& context, const std::string& sha256);

}  // namespace hubmirror::api
