#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "registry/registry.h"

namespace hubmirror::api {

// The administrative changes to people and access (users, organizations, tokens, grants), made
// the same way whoever asks: the CLI on a data directory, or an admin over HTTP. Each makes its
// change on the registry it is given and returns what the audit log records of it; the caller
// records it with its own actor and address (AuditRecord). Pure functions of the registry, used
// on the thread that owns that connection.

// A change as the audit log records it. Never holds a secret.
struct AdminAction {
  std::string action;     // e.g. "user.add"
  std::string target;     // e.g. "user alice"
  nlohmann::json detail;  // an object, or null for nothing more
};

// The audit event of a change: by `actor` (a user name, or "operator" for the CLI), from
// `address` ("" for the CLI), with `outcome`.
registry::AuditEvent AuditRecord(const AdminAction& action, std::string actor, std::string address,
                                 std::string outcome = "ok");
// A repo as the audit log names it: "model acme/m", spelt as published.
std::string RepoTarget(const registry::Repo& repo);

// The registry's errors pass through: kInvalidArgument for an invalid name, kAlreadyExists for a
// name taken, kNotFound for an unknown user, organization, member or token, kRepoNotFound.
Result<AdminAction> AddUser(registry::Registry& registry, const std::string& name, bool admin,
                            bool robot);
// Also removes the user's tokens, memberships and access.
Result<AdminAction> RemoveUser(registry::Registry& registry, const std::string& name);
Result<AdminAction> AddOrg(registry::Registry& registry, const std::string& org);
// Adds a member, or changes the role of one.
Result<AdminAction> SetOrgMember(registry::Registry& registry, const std::string& org,
                                 const std::string& user, registry::OrgRole role);
Result<AdminAction> RemoveOrgMember(registry::Registry& registry, const std::string& org,
                                    const std::string& user);

// What a new token is to be.
struct TokenRequest {
  std::string user;
  std::string name;  // "" for "token-N", with the smallest N the user has not used
  registry::TokenScope scope = registry::TokenScope::kRead;
  int64_t expires_seconds = 0;  // from now (at most what ParseDuration gives); 0: never
};

// A token just created: its secret (shown this once, stored only as its hash) and the token as
// listed.
struct CreatedToken {
  std::string secret;
  registry::TokenInfo info;
};

// Creates a token with a new secret. kInvalidArgument also for a name that is not an account
// name (ValidateAccountName).
Result<AdminAction> CreateToken(registry::Registry& registry, const TokenRequest& request,
                                CreatedToken* created);
// Revoked tokens stay listed, and their names are not reused.
Result<AdminAction> RevokeToken(registry::Registry& registry, const std::string& user,
                                const std::string& name);
// Why a grant to a repo open to all (public, not gated) changes nothing yet.
inline constexpr std::string_view kGrantOnOpenRepo =
    "the repo is public and not gated: the grant matters once repo settings make it private or "
    "gated";

// Grants `user` access to a repo (accepted, decided by `decided_by`), or takes their access or
// pending request away. `*open_to_all`, when given, says whether the repo is public and not
// gated, so that the grant does not matter yet.
Result<AdminAction> ChangeAccess(registry::Registry& registry, RepoType type,
                                 const std::string& repo, const std::string& user, bool grant,
                                 const std::string& decided_by, bool* open_to_all);

}  // namespace hubmirror::api
