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

namespace {

// Why a write to a mirrored repo is refused, or nullopt when its rule lets this one through.
Result<std::optional<std::string>> MirroredRefusal(const RequestContext& context,
                                                   const registry::Repo& repo,
                                                   const WriteScope& scope) {
  std::string what = RepoTarget(repo);
  if (scope.whole_repo) {
    return std::optional<std::string>(what +
                                      " is mirrored from an upstream: its mirror rule decides "
                                      "whether it is here, not the publishing API");
  }
  auto writable = context.registry.AllowsLocalWrites(repo.type, repo.name);
  if (!writable.ok()) return writable.status();
  if (!*writable) {
    return std::optional<std::string>(
        what +
        " is mirrored from an upstream: its content must stay the upstream's; publish "
        "under another name, or let its mirror rule say writable = true to add branches "
        "and tags of your own");
  }
  if (scope.ref.empty()) return std::optional<std::string>();
  auto synced = context.registry.FindSyncState(repo.type, repo.name, scope.ref);
  if (!synced.ok()) return synced.status();
  if (!*synced) return std::optional<std::string>();
  return std::optional<std::string>(scope.ref + " of " + what +
                                    " is mirrored from an upstream and stays the upstream's; "
                                    "write to a branch or tag of your own");
}

}  // namespace

std::optional<registry::Repo> WritableRepo(const RequestContext& context, RepoType type,
                                           const std::string& name, Response* refusal,
                                           const WriteScope& scope) {
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
  if (!mirrored.ok()) {
    *refusal = ErrorFromStatus(mirrored.status(), true);
    return std::nullopt;
  }
  if (*mirrored) {
    auto refused = MirroredRefusal(context, *repo, scope);
    if (!refused.ok() || *refused) {
      *refusal = refused.ok() ? ErrorResponse(ApiError::kForbidden, **refused, true)
                              : ErrorFromStatus(refused.status(), true);
      return std::nullopt;
    }
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
  if (adding == 0 || !context.publisher->Limits().For(space)) return std::nullopt;
  auto used = context.registry.NamespaceBytes(space);
  if (!used.ok()) return ErrorFromStatus(used.status(), true);
  return QuotaRefusal(context, space, *used, adding, "this upload");
}

std::optional<Response> QuotaRefusal(const RequestContext& context, const std::string& space,
                                     uint64_t used, uint64_t adding, const std::string& what) {
  std::optional<uint64_t> quota = context.publisher->Limits().For(space);
  if (!quota || used + adding <= *quota) return std::nullopt;
  return ErrorResponse(ApiError::kForbidden,
                       "Storage quota of " + space + " exceeded: its repos use " +
                           std::to_string(used) + " of " + std::to_string(*quota) + " bytes, and " +
                           what + " needs " + std::to_string(adding) + " more",
                       true);
}

}  // namespace hubmirror::api
