// Identities: users, organizations and their members, access tokens, and who a token is.
#include <openssl/crypto.h>

#include "common/clock.h"
#include "common/digest.h"
#include "registry/registry.h"
#include "registry/sqlite.h"

namespace hubmirror::registry {
namespace {

constexpr size_t kMaxTokenNameBytes = 100;

Status ValidateNamespace(const std::string& name) {
  Status valid = name.find('/') == std::string::npos ? ValidateRepoId(name)
                                                     : InvalidArgument("'" + name + "' has a '/'");
  if (valid.ok()) return valid;
  return InvalidArgument("invalid user or organization name: " + valid.message());
}

// Users and organizations share one set of names, each a namespace of repos: a new one must be
// valid and free in both tables. Called inside the write transaction that adds it.
Status CheckNewNamespace(StatementCache& statements, const std::string& name) {
  HM_RETURN_IF_ERROR(ValidateNamespace(name));
  Statement s(statements,
              "SELECT 'a user' FROM users WHERE name_lower = ?1 "
              "UNION ALL SELECT 'an organization' FROM orgs WHERE name_lower = ?1");
  s.Bind(1, AsciiLower(name));
  if (s.Step()) {
    return Status(StatusCode::kAlreadyExists, "the name '" + name + "' is taken by " + s.Text(0));
  }
  return s.status();
}

Status ValidateTokenName(const std::string& name) {
  if (name.empty() || name.size() > kMaxTokenNameBytes) {
    return InvalidArgument("a token name has 1 to 100 characters");
  }
  for (char c : name) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return InvalidArgument("a token name has no control characters");
    }
  }
  return Status::Ok();
}

Status NotFoundNamed(std::string_view what, std::string_view name) {
  return NotFound(std::string(what) + " '" + std::string(name) + "' not found");
}

// The id of the row named `name` (case-insensitive) in `table`; kNotFound names it as `what`.
Result<int64_t> IdByName(StatementCache& statements, std::string_view table, std::string_view what,
                         std::string_view name) {
  Statement s(statements, "SELECT id FROM " + std::string(table) + " WHERE name_lower = ?");
  s.Bind(1, AsciiLower(name));
  if (s.Step()) return s.Int(0);
  if (!s.status().ok()) return s.status();
  return NotFoundNamed(what, name);
}

constexpr const char* kUserColumns = "u.id, u.name, u.is_admin, u.is_robot, u.created_at";
constexpr int kUserColumnCount = 5;

User ReadUser(const Statement& s, int first) {
  User user;
  user.id = s.Int(first);
  user.name = s.Text(first + 1);
  user.is_admin = s.Int(first + 2) != 0;
  user.is_robot = s.Int(first + 3) != 0;
  user.created_at_ms = s.Int(first + 4);
  return user;
}

// NULL times (never expires, not revoked) read as 0.
constexpr const char* kTokenColumns =
    "u.name, t.name, t.scope, t.created_at, t.expires_at, t.revoked_at";
constexpr int kTokenColumnCount = 6;

TokenInfo ReadToken(const Statement& s, int first) {
  TokenInfo token;
  token.user = s.Text(first);
  token.name = s.Text(first + 1);
  ParseTokenScope(s.Text(first + 2), &token.scope);
  token.created_at_ms = s.Int(first + 3);
  token.expires_at_ms = s.Int(first + 4);
  token.revoked_at_ms = s.Int(first + 5);
  return token;
}

}  // namespace

bool SecretEqual::operator()(const std::string& a, const std::string& b) const {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

Result<int64_t> Registry::UserId(std::string_view name) {
  return IdByName(*statements_, "users", "user", name);
}

Status Registry::AddUser(const std::string& name, bool is_admin, bool is_robot) {
  WriteTransaction transaction(db_);
  HM_RETURN_IF_ERROR(transaction.Begin());
  HM_RETURN_IF_ERROR(CheckNewNamespace(*statements_, name));
  Statement s(*statements_,
              "INSERT INTO users (name, name_lower, is_admin, is_robot, created_at) "
              "VALUES (?, ?, ?, ?, ?)");
  s.Bind(1, name).Bind(2, AsciiLower(name)).Bind(3, is_admin ? 1 : 0).Bind(4, is_robot ? 1 : 0);
  s.Bind(5, NowUnixMillis());
  HM_RETURN_IF_ERROR(s.Run());
  return transaction.Commit();
}

Status Registry::RemoveUser(std::string_view name) {
  auto user_id = UserId(name);
  if (!user_id.ok()) return user_id.status();
  // Tokens, memberships and access requests go with the user (ON DELETE CASCADE).
  Statement s(*statements_, "DELETE FROM users WHERE id = ?");
  s.Bind(1, *user_id);
  return s.Run();
}

Result<std::vector<User>> Registry::ListUsers() {
  Statement s(*statements_,
              std::string("SELECT ") + kUserColumns + " FROM users u ORDER BY u.name_lower");
  std::vector<User> users;
  while (s.Step()) users.push_back(ReadUser(s, 0));
  HM_RETURN_IF_ERROR(s.status());
  return users;
}

Result<User> Registry::FindUser(std::string_view name) {
  Statement s(*statements_,
              std::string("SELECT ") + kUserColumns + " FROM users u WHERE u.name_lower = ?");
  s.Bind(1, AsciiLower(name));
  if (s.Step()) return ReadUser(s, 0);
  HM_RETURN_IF_ERROR(s.status());
  return NotFoundNamed("user", name);
}

Status Registry::AddOrg(const std::string& name) {
  WriteTransaction transaction(db_);
  HM_RETURN_IF_ERROR(transaction.Begin());
  HM_RETURN_IF_ERROR(CheckNewNamespace(*statements_, name));
  Statement s(*statements_, "INSERT INTO orgs (name, name_lower, created_at) VALUES (?, ?, ?)");
  s.Bind(1, name).Bind(2, AsciiLower(name)).Bind(3, NowUnixMillis());
  HM_RETURN_IF_ERROR(s.Run());
  return transaction.Commit();
}

Status Registry::SetOrgMember(std::string_view org, std::string_view user, OrgRole role) {
  WriteTransaction transaction(db_);
  HM_RETURN_IF_ERROR(transaction.Begin());
  auto org_id = IdByName(*statements_, "orgs", "organization", org);
  if (!org_id.ok()) return org_id.status();
  auto user_id = UserId(user);
  if (!user_id.ok()) return user_id.status();
  Statement s(*statements_,
              "INSERT INTO org_members (org_id, user_id, role) VALUES (?, ?, ?) "
              "ON CONFLICT (org_id, user_id) DO UPDATE SET role = excluded.role");
  s.Bind(1, *org_id).Bind(2, *user_id).Bind(3, OrgRoleName(role));
  HM_RETURN_IF_ERROR(s.Run());
  return transaction.Commit();
}

Status Registry::RemoveOrgMember(std::string_view org, std::string_view user) {
  Statement s(*statements_,
              "DELETE FROM org_members WHERE org_id = (SELECT id FROM orgs WHERE name_lower = ?) "
              "AND user_id = (SELECT id FROM users WHERE name_lower = ?)");
  s.Bind(1, AsciiLower(org)).Bind(2, AsciiLower(user));
  HM_RETURN_IF_ERROR(s.Run());
  if (sqlite3_changes(db_) == 0) {
    return NotFound("'" + std::string(user) + "' is not a member of '" + std::string(org) + "'");
  }
  return Status::Ok();
}

Result<std::vector<Org>> Registry::ListOrgs() {
  Statement s(*statements_,
              "SELECT o.id, o.name, o.created_at, u.name, m.role FROM orgs o "
              "LEFT JOIN org_members m ON m.org_id = o.id LEFT JOIN users u ON u.id = m.user_id "
              "ORDER BY o.name_lower, u.name_lower");
  std::vector<Org> orgs;
  while (s.Step()) {
    if (orgs.empty() || orgs.back().id != s.Int(0)) {
      orgs.push_back(Org{s.Int(0), s.Text(1), s.Int(2), {}});
    }
    if (s.IsNull(3)) continue;  // an organization without members
    OrgMember member{s.Text(3)};
    ParseOrgRole(s.Text(4), &member.role);
    orgs.back().members.push_back(std::move(member));
  }
  HM_RETURN_IF_ERROR(s.status());
  return orgs;
}

Status Registry::AddToken(std::string_view user, const std::string& name,
                          const std::string& secret_sha256, TokenScope scope,
                          int64_t expires_at_ms) {
  HM_RETURN_IF_ERROR(ValidateTokenName(name));
  if (!IsSha256Hex(secret_sha256)) {
    return InvalidArgument("a token is stored by the SHA-256 of its secret, in lowercase hex");
  }
  WriteTransaction transaction(db_);
  HM_RETURN_IF_ERROR(transaction.Begin());
  auto user_id = UserId(user);
  if (!user_id.ok()) return user_id.status();
  {
    Statement taken(*statements_, "SELECT 1 FROM tokens WHERE user_id = ? AND name = ?");
    taken.Bind(1, *user_id).Bind(2, name);
    if (taken.Step()) {
      return Status(StatusCode::kAlreadyExists,
                    "user '" + std::string(user) + "' already has a token named '" + name + "'");
    }
    HM_RETURN_IF_ERROR(taken.status());
  }
  Statement s(*statements_,
              "INSERT INTO tokens (user_id, name, secret_sha256, scope, created_at, expires_at) "
              "VALUES (?, ?, ?, ?, ?, NULLIF(?, 0))");
  s.Bind(1, *user_id).Bind(2, name).Bind(3, secret_sha256).Bind(4, TokenScopeName(scope));
  s.Bind(5, NowUnixMillis()).Bind(6, expires_at_ms);
  HM_RETURN_IF_ERROR(s.Run());
  return transaction.Commit();
}

Result<std::vector<TokenInfo>> Registry::ListTokens(std::string_view user) {
  int64_t user_id = 0;
  if (!user.empty()) {
    auto found = UserId(user);
    if (!found.ok()) return found.status();
    user_id = *found;
  }
  Statement s(*statements_, std::string("SELECT ") + kTokenColumns +
                                " FROM tokens t JOIN users u ON u.id = t.user_id "
                                "WHERE ?1 = 0 OR t.user_id = ?1 ORDER BY u.name_lower, t.name");
  s.Bind(1, user_id);
  std::vector<TokenInfo> tokens;
  while (s.Step()) tokens.push_back(ReadToken(s, 0));
  HM_RETURN_IF_ERROR(s.status());
  return tokens;
}

Status Registry::RevokeToken(std::string_view user, std::string_view name) {
  Statement s(*statements_,
              "UPDATE tokens SET revoked_at = COALESCE(revoked_at, ?3) "
              "WHERE user_id = (SELECT id FROM users WHERE name_lower = ?1) AND name = ?2");
  s.Bind(1, AsciiLower(user)).Bind(2, name).Bind(3, NowUnixMillis());
  HM_RETURN_IF_ERROR(s.Run());
  if (sqlite3_changes(db_) == 0) {
    return NotFound("user '" + std::string(user) + "' has no token named '" + std::string(name) +
                    "'");
  }
  return Status::Ok();
}

Result<std::optional<Principal>> Registry::FindPrincipal(const std::string& secret_sha256,
                                                         int64_t now_ms) {
  auto found =
      principals_.Get(secret_sha256, [&] { return FindPrincipalInDatabase(secret_sha256); });
  if (!found.ok()) return found.status();
  // Judged at every call, not remembered: a remembered token still expires on time.
  const std::optional<Principal>& principal = *found;
  if (!principal || principal->token.revoked_at_ms != 0 ||
      (principal->token.expires_at_ms != 0 && now_ms >= principal->token.expires_at_ms)) {
    return std::optional<Principal>();
  }
  return found;
}

Result<std::optional<Principal>> Registry::FindPrincipalInDatabase(
    const std::string& secret_sha256) {
  // One row per organization of the user (one with NULLs when none).
  Statement s(*statements_, std::string("SELECT ") + kUserColumns + ", " + kTokenColumns +
                                ", o.name, m.role FROM tokens t JOIN users u ON u.id = t.user_id "
                                "LEFT JOIN org_members m ON m.user_id = u.id "
                                "LEFT JOIN orgs o ON o.id = m.org_id "
                                "WHERE t.secret_sha256 = ? ORDER BY o.name_lower");
  s.Bind(1, secret_sha256);
  std::optional<Principal> principal;
  constexpr int kOrgColumn = kUserColumnCount + kTokenColumnCount;
  while (s.Step()) {
    if (!principal) principal = Principal{ReadUser(s, 0), ReadToken(s, kUserColumnCount), {}};
    if (s.IsNull(kOrgColumn)) continue;
    OrgRole role = OrgRole::kRead;
    ParseOrgRole(s.Text(kOrgColumn + 1), &role);
    principal->orgs.emplace_back(s.Text(kOrgColumn), role);
  }
  HM_RETURN_IF_ERROR(s.status());
  return principal;
}

}  // namespace hubmirror::registry
