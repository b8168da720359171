#include "api/write_access.h"

#include "api/access.h"
#include "api/admin_actions.h"

namespace hubmirror::api {

std::optional<Response> WriterRefusal(const RequestContext& context) {
  if (context.caller.anonymous()) {
    return ErrorResponse(ApiError::kUnauthorized, "You must be authenticated to write", true);
  }
  if (context.caller.principal->token.scope != registry::TokenScope::kWrite) {
    return ErrorResponse(ApiError::kForbidden,
                         "this token is read-only; a write token is needed to publish", true);
  }
  if (context.publisher == nullptr) {
    return ErrorResponse(ApiError::kServiceUnavailable, "this server does not publish", true);
  }
  return std::nullopt;
}

std::optional<registry::Repo> WritableRepo(const RequestContext& context, RepoType type,
                                           const std::string& name, Response* refusal) {
  if (auto refused = WriterRefusal(context)) {
    *refusal = std::move(*refused);
    return std::nullopt;
  }
  RepoRight right = RepoRight::kNone;
  auto repo = FindVisibleRepo(context, type, name, &right);
  if (!repo.ok()) {
    *refusal = ErrorFromStatus(repo.status(), true);
    return std::nullopt;
  }
  if (!MayManage(context.caller, *repo)) {
    *refusal = ErrorResponse(ApiError::kForbidden,
                             "You don't have the rights to write to " + RepoTarget(*repo), true);
    return std::nullopt;
  }
  auto mirrored = context.registry.HasSyncState(type, repo->name);
  if (!mirrored.ok() || *mirrored) {
    *refusal = mirrored.ok() ? ErrorResponse(ApiError::kForbidden,
                                             RepoTarget(*repo) +
                                                 " is mirrored from an upstream: its content must "
                                                 "stay the upstream's; publish under another name",
                                             true)
                             : ErrorFromStatus(mirrored.status(), true);
    return std::nullopt;
  }
  return std::move(repo.value());
}

Result<bool> MayReferenceContent(const RequestContext& context, const std::string& sha256) {
  auto uses = context.registry.BlobUses(sha256, 100);
  if (!uses.ok()) return uses.status();
  for (const auto& use : *uses) {
    RepoRight right = RepoRight::kNone;
    auto repo = FindVisibleRepo(context, use.type, use.repo, &right);
    if (repo.ok() && right == RepoRight::kContent) return true;
  }
  return false;
}

std::optional<Response> QuotaRefusal(const RequestContext& context, const registry::Repo& repo,
                                     uint64_t adding) {
  std::string space(RepoNamespace(repo.name));
  std::optional<uint64_t> quota = context.publisher->Quotas().For(space);
  if (!quota || adding == 0) return std::nullopt;
  auto used = context.registry.NamespaceBytes(space);
  if (!used.ok()) return ErrorFromStatus(used.status(), true);
  if (*used + adding <= *quota) return std::nullopt;
  return ErrorResponse(ApiError::kForbidden,
                       "Storage quota of " + space + " exceeded: its repos use " +
                           std::to_string(*used) + " of " + std::to_string(*quota) +
                           " bytes, and this upload needs " + std::to_string(adding) + " more",
                       true);
}

}  // namespace hubmirror::api
