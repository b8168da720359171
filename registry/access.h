#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/names.h"

namespace hubmirror::registry {

// The people and rights of an instance (users, organizations, tokens, access to gated and
// private repos) and the audit log, as the registry stores them. Plain values.

// A role in an organization: read its private repos; also write to them (and decide access
// requests, change settings); also administer the organization.
enum class OrgRole { kRead, kWrite, kAdmin };
std::string_view OrgRoleName(OrgRole role);  // "read", "write", "admin"
bool ParseOrgRole(std::string_view text, OrgRole* role);

// What a token may do: read, or also write (settings, access decisions, admin calls).
enum class TokenScope { kRead, kWrite };
std::string_view TokenScopeName(TokenScope scope);  // "read", "write"
bool ParseTokenScope(std::string_view text, TokenScope* scope);

struct User {
  int64_t id = 0;
  std::string name;
  bool is_admin = false;  // administers the whole instance
  bool is_robot = false;  // no person behind it (CI)
  int64_t created_at_ms = 0;
};

struct OrgMember {
  std::string user;
  OrgRole role = OrgRole::kRead;
};

struct Org {
  int64_t id = 0;
  std::string name;
  int64_t created_at_ms = 0;
  std::vector<OrgMember> members;  // by user name
};

// A token as listed: never its secret, which is stored only as its SHA-256.
struct TokenInfo {
  std::string user;
  std::string name;
  TokenScope scope = TokenScope::kRead;
  int64_t created_at_ms = 0;
  int64_t expires_at_ms = 0;  // 0: never
  int64_t revoked_at_ms = 0;  // 0: not revoked
};

// Who a valid token identifies, with what the access checks need, read in one query.
struct Principal {
  User user;
  TokenInfo token;
  std::vector<std::pair<std::string, OrgRole>> orgs;  // organization name -> role, by name
};

// Access to one gated or private repo, requested by a user or given by someone who may.
enum class AccessStatus { kPending, kAccepted, kRejected };
std::string_view AccessStatusName(AccessStatus status);  // "pending", "accepted", "rejected"
bool ParseAccessStatus(std::string_view text, AccessStatus* status);

struct AccessRequest {
  std::string user;
  AccessStatus status = AccessStatus::kPending;
  int64_t requested_at_ms = 0;
  int64_t decided_at_ms = 0;  // 0: not decided
  std::string decided_by;     // a user name, or "hubmirror" for automatic grants
  std::string terms;          // the terms the user accepted, as shown to them
  std::string reason;         // why it was rejected, when it was
};

// A repo's visibility and gating as they apply here: the operator's settings where given, else
// the upstream's flags (Repo::is_private and Repo::gated).
struct RepoAccessSettings {
  std::optional<bool> is_private;
  std::optional<std::string> gated;  // "false", "auto" or "manual"
};

// One security-relevant event, as the audit log keeps it.
struct AuditEvent {
  int64_t id = 0;  // assigned when recorded, increasing
  int64_t at_ms = 0;
  std::string actor;    // a user name, "anonymous", or "operator" for the CLI
  std::string action;   // e.g. "token.create", "access.grant", "content.refused"
  std::string target;   // e.g. "model acme/m", "user alice", "token ci of alice"
  std::string outcome;  // "ok", "refused", ...
  std::string address;  // the client's address, or "" for the CLI
  std::string detail;   // JSON object text with anything else, or ""
};

}  // namespace hubmirror::registry
