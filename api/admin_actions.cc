#include "api/admin_actions.h"

#include <set>

#include "api/identity_json.h"
#include "common/clock.h"
#include "common/json_text.h"
#include "common/tokens.h"

namespace hubmirror::api {
namespace {

using registry::Registry;

// "token-N" with the smallest N the user has not used: names are never reused, revoked tokens
// keep theirs.
Result<std::string> DefaultTokenName(Registry& registry, const std::string& user) {
  auto tokens = registry.ListTokens(user);
  if (!tokens.ok()) return tokens.status();
  std::set<std::string> taken;
  for (const auto& token : *tokens) taken.insert(token.name);
  for (size_t n = 1;; ++n) {
    std::string name = "token-" + std::to_string(n);
    if (!taken.contains(name)) return name;
  }
}

// The token as the registry lists it: its creation time and its user's name as stored.
Result<registry::TokenInfo> FindToken(Registry& registry, const std::string& user,
                                      const std::string& name) {
  auto tokens = registry.ListTokens(user);
  if (!tokens.ok()) return tokens.status();
  for (auto& token : *tokens) {
    if (token.name == name) return std::move(token);
  }
  return Internal("token " + name + " of " + user + " is not listed after its creation");
}

}  // namespace

registry::AuditEvent AuditRecord(const AdminAction& action, std::string actor, std::string address,
                                 std::string outcome) {
  registry::AuditEvent event;
  event.actor = std::move(actor);
  event.action = action.action;
  event.target = action.target;
  event.outcome = std::move(outcome);
  event.address = std::move(address);
  if (!action.detail.is_null()) {
    event.detail = CompactJson(action.detail);
  }
  return event;
}

std::string RepoTarget(const registry::Repo& repo) {
  return std::string(RepoTypeName(repo.type)) + " " + repo.name;
}

Result<AdminAction> AddUser(Registry& registry, const std::string& name, bool admin, bool robot) {
  HM_RETURN_IF_ERROR(registry.AddUser(name, admin, robot));
  return AdminAction{"user.add", "user " + name, {{"admin", admin}, {"robot", robot}}};
}

Result<AdminAction> RemoveUser(Registry& registry, const std::string& name) {
  HM_RETURN_IF_ERROR(registry.RemoveUser(name));
  return AdminAction{"user.remove", "user " + name, nullptr};
}

Result<AdminAction> AddOrg(Registry& registry, const std::string& org) {
  HM_RETURN_IF_ERROR(registry.AddOrg(org));
  return AdminAction{"org.add", "org " + org, nullptr};
}

Result<AdminAction> SetOrgMember(Registry& registry, const std::string& org,
                                 const std::string& user, registry::OrgRole role) {
  HM_RETURN_IF_ERROR(registry.SetOrgMember(org, user, role));
  return AdminAction{
      "org.member.set", "org " + org, {{"user", user}, {"role", registry::OrgRoleName(role)}}};
}

Result<AdminAction> RemoveOrgMember(Registry& registry, const std::string& org,
                                    const std::string& user) {
  HM_RETURN_IF_ERROR(registry.RemoveOrgMember(org, user));
  return AdminAction{"org.member.remove", "org " + org, {{"user", user}}};
}

Result<AdminAction> CreateToken(Registry& registry, const TokenRequest& request,
                                CreatedToken* created) {
  if (!request.name.empty()) HM_RETURN_IF_ERROR(ValidateAccountName(request.name));
  auto secret = NewTokenSecret();
  if (!secret.ok()) return secret.status();
  std::string name = request.name;
  if (name.empty()) {
    auto chosen = DefaultTokenName(registry, request.user);
    if (!chosen.ok()) return chosen.status();
    name = std::move(chosen.value());
  }
  int64_t expires_at_ms =
      request.expires_seconds == 0 ? 0 : NowUnixMillis() + request.expires_seconds * 1000;
  HM_RETURN_IF_ERROR(registry.AddToken(request.user, name, TokenSecretHash(*secret), request.scope,
                                       expires_at_ms));
  auto info = FindToken(registry, request.user, name);
  if (!info.ok()) return info.status();
  created->secret = std::move(secret.value());
  created->info = std::move(info.value());
  return AdminAction{"token.create",
                     "token " + name + " of " + request.user,
                     {{"scope", registry::TokenScopeName(request.scope)},
                      {"expires_at", TimeOrNull(expires_at_ms)}}};
}

Result<AdminAction> RevokeToken(Registry& registry, const std::string& user,
                                const std::string& name) {
  HM_RETURN_IF_ERROR(registry.RevokeToken(user, name));
  return AdminAction{"token.revoke", "token " + name + " of " + user, nullptr};
}

Result<AdminAction> ChangeAccess(Registry& registry, RepoType type, const std::string& repo,
                                 const std::string& user, bool grant, const std::string& decided_by,
                                 bool* open_to_all) {
  auto found = registry.FindRepo(type, repo);
  if (!found.ok()) return found.status();
  HM_RETURN_IF_ERROR(grant
                         ? registry.DecideAccess(type, repo, user,
                                                 registry::AccessStatus::kAccepted, decided_by, "")
                         : registry.RemoveAccess(type, repo, user));
  if (open_to_all != nullptr) *open_to_all = !found->is_private && found->gated == "false";
  return AdminAction{
      grant ? "access.grant" : "access.revoke", RepoTarget(*found), {{"user", user}}};
}

}  // namespace hubmirror::api
