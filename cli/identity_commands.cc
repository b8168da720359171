// `hubmirror user`, `hubmirror org` and `hubmirror token`: the people of an instance, their
// organizations and their access tokens.
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>

#include "cli/commands.h"
#include "cli/options.h"
#include "common/clock.h"
#include "common/tokens.h"
#include "registry/registry.h"

namespace hubmirror::cli {
namespace {

using registry::Registry;

// An ISO-8601 time, or null for 0 (never).
nlohmann::json TimeOrNull(int64_t unix_millis) {
  return unix_millis == 0 ? nlohmann::json() : nlohmann::json(FormatIsoMillis(unix_millis));
}

// Prints a listing on stdout: one JSON document {"KEY": [...]} with `json`, else a line per item
// and their count ("3 users").
template <typename Item>
int PrintListing(const Result<std::vector<Item>>& items, bool json, const std::string& key,
                 const std::function<nlohmann::json(const Item&)>& as_json,
                 const std::function<std::string(const Item&)>& as_text) {
  if (!items.ok()) return ReportFailure(items.status());
  if (json) {
    nlohmann::json listed = nlohmann::json::array();
    for (const Item& item : *items) listed.push_back(as_json(item));
    std::cout << nlohmann::json{{key, listed}}.dump(2) << std::endl;
  } else {
    for (const Item& item : *items) std::cout << as_text(item) << std::endl;
    std::cout << items->size() << " " << key << std::endl;
  }
  return kExitOk;
}

// ------------------------------------------------------------------------------ user

struct UserArgs {
  std::string name;
  bool admin = false;
  bool robot = false;
};

int RunUserAdd(const CommonOptions& common, const UserArgs& args) {
  Status done = ApplyOperatorAction(common, [&](Registry& registry) -> Result<OperatorAction> {
    HM_RETURN_IF_ERROR(registry.AddUser(args.name, args.admin, args.robot));
    return OperatorAction{
        "user.add", "user " + args.name, {{"admin", args.admin}, {"robot", args.robot}}};
  });
  if (!done.ok()) return ReportFailure(done);
  std::cout << "added " << (args.admin ? "admin " : "") << (args.robot ? "robot " : "") << "user "
            << args.name << std::endl;
  return kExitOk;
}

int RunUserRemove(const CommonOptions& common, const UserArgs& args) {
  Status done = ApplyOperatorAction(common, [&](Registry& registry) -> Result<OperatorAction> {
    HM_RETURN_IF_ERROR(registry.RemoveUser(args.name));
    return OperatorAction{"user.remove", "user " + args.name, nullptr};
  });
  if (!done.ok()) return ReportFailure(done);
  std::cout << "removed user " << args.name << " with their tokens, memberships and access"
            << std::endl;
  return kExitOk;
}

int RunUserList(const CommonOptions& common, bool json) {
  auto registry = OpenExistingRegistry(common, Registry::Mode::kReadOnly);
  if (!registry.ok()) return ReportFailure(registry.status());
  return PrintListing<registry::User>(
      (*registry)->ListUsers(), json, "users",
      [](const registry::User& user) -> nlohmann::json {
        return {{"name", user.name},
                {"admin", user.is_admin},
                {"robot", user.is_robot},
                {"created_at", FormatIsoMillis(user.created_at_ms)}};
      },
      [](const registry::User& user) {
        return user.name + (user.is_admin ? " (admin)" : "") + (user.is_robot ? " (robot)" : "") +
               ", created " + FormatIsoMillis(user.created_at_ms);
      });
}

// ------------------------------------------------------------------------------ org

struct OrgArgs {
  std::string org;
  std::string user;
  std::string role;
};

int RunOrgAdd(const CommonOptions& common, const OrgArgs& args) {
  Status done = ApplyOperatorAction(common, [&](Registry& registry) -> Result<OperatorAction> {
    HM_RETURN_IF_ERROR(registry.AddOrg(args.org));
    return OperatorAction{"org.add", "org " + args.org, nullptr};
  });
  if (!done.ok()) return ReportFailure(done);
  std::cout << "added organization " << args.org << std::endl;
  return kExitOk;
}

int RunOrgAddMember(const CommonOptions& common, const OrgArgs& args) {
  registry::OrgRole role;
  if (!registry::ParseOrgRole(args.role, &role)) {
    return ReportFailure(InvalidArgument("--role must be read, write or admin"));
  }
  Status done = ApplyOperatorAction(common, [&](Registry& registry) -> Result<OperatorAction> {
    HM_RETURN_IF_ERROR(registry.SetOrgMember(args.org, args.user, role));
    return OperatorAction{
        "org.member.set", "org " + args.org, {{"user", args.user}, {"role", args.role}}};
  });
  if (!done.ok()) return ReportFailure(done);
  std::cout << args.user << " is a member of " << args.org << " with role " << args.role
            << std::endl;
  return kExitOk;
}

int RunOrgRemoveMember(const CommonOptions& common, const OrgArgs& args) {
  Status done = ApplyOperatorAction(common, [&](Registry& registry) -> Result<OperatorAction> {
    HM_RETURN_IF_ERROR(registry.RemoveOrgMember(args.org, args.user));
    return OperatorAction{"org.member.remove", "org " + args.org, {{"user", args.user}}};
  });
  if (!done.ok()) return ReportFailure(done);
  std::cout << args.user << " is no longer a member of " << args.org << std::endl;
  return kExitOk;
}

int RunOrgList(const CommonOptions& common, bool json) {
  auto registry = OpenExistingRegistry(common, Registry::Mode::kReadOnly);
  if (!registry.ok()) return ReportFailure(registry.status());
  return PrintListing<registry::Org>(
      (*registry)->ListOrgs(), json, "orgs",
      [](const registry::Org& org) -> nlohmann::json {
        nlohmann::json members = nlohmann::json::array();
        for (const auto& member : org.members) {
          members.push_back({{"user", member.user}, {"role", registry::OrgRoleName(member.role)}});
        }
        return {{"name", org.name},
                {"created_at", FormatIsoMillis(org.created_at_ms)},
                {"members", members}};
      },
      [](const registry::Org& org) {
        std::string line = org.name + ":";
        if (org.members.empty()) line += " no members";
        for (size_t i = 0; i < org.members.size(); ++i) {
          line += (i == 0 ? " " : ", ") + org.members[i].user + " (" +
                  std::string(registry::OrgRoleName(org.members[i].role)) + ")";
        }
        return line;
      });
}

// ------------------------------------------------------------------------------ token

struct TokenArgs {
  std::string user;
  std::string name;
  std::string scope = "read";
  int64_t expires_seconds = 0;  // 0: never
  bool json = false;
};

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

int RunTokenCreate(const CommonOptions& common, const TokenArgs& args) {
  registry::TokenScope scope;
  if (!registry::ParseTokenScope(args.scope, &scope)) {
    return ReportFailure(InvalidArgument("--scope must be read or write"));
  }
  auto secret = NewTokenSecret();
  if (!secret.ok()) return ReportFailure(secret.status());
  int64_t expires_at_ms =
      args.expires_seconds == 0 ? 0 : NowUnixMillis() + args.expires_seconds * 1000;
  std::string name = args.name;
  Status done = ApplyOperatorAction(common, [&](Registry& registry) -> Result<OperatorAction> {
    if (name.empty()) {
      auto chosen = DefaultTokenName(registry, args.user);
      if (!chosen.ok()) return chosen.status();
      name = *chosen;
    }
    HM_RETURN_IF_ERROR(
        registry.AddToken(args.user, name, TokenSecretHash(*secret), scope, expires_at_ms));
    return OperatorAction{"token.create",
                          "token " + name + " of " + args.user,
                          {{"scope", args.scope}, {"expires_at", TimeOrNull(expires_at_ms)}}};
  });
  if (!done.ok()) return ReportFailure(done);
  std::cout << "created " << args.scope << " token " << name << " of " << args.user << ", expires "
            << (expires_at_ms == 0 ? "never" : FormatIsoMillis(expires_at_ms))
            << "; its secret is shown this once:" << std::endl
            << *secret << std::endl;
  return kExitOk;
}

int RunTokenRevoke(const CommonOptions& common, const TokenArgs& args) {
  Status done = ApplyOperatorAction(common, [&](Registry& registry) -> Result<OperatorAction> {
    HM_RETURN_IF_ERROR(registry.RevokeToken(args.user, args.name));
    return OperatorAction{"token.revoke", "token " + args.name + " of " + args.user, nullptr};
  });
  if (!done.ok()) return ReportFailure(done);
  std::cout << "revoked token " << args.name << " of " << args.user << std::endl;
  return kExitOk;
}

std::string TokenState(const registry::TokenInfo& token, int64_t now_ms) {
  if (token.revoked_at_ms != 0) return "revoked";
  if (token.expires_at_ms != 0 && token.expires_at_ms <= now_ms) return "expired";
  return "active";
}

int RunTokenList(const CommonOptions& common, const TokenArgs& args) {
  auto registry = OpenExistingRegistry(common, Registry::Mode::kReadOnly);
  if (!registry.ok()) return ReportFailure(registry.status());
  if (!args.user.empty()) {
    // A mistyped user is an error, not an empty list.
    if (Status known = (*registry)->FindUser(args.user).status(); !known.ok()) {
      return ReportFailure(known);
    }
  }
  int64_t now_ms = NowUnixMillis();
  return PrintListing<registry::TokenInfo>(
      (*registry)->ListTokens(args.user), args.json, "tokens",
      [now_ms](const registry::TokenInfo& token) -> nlohmann::json {
        return {{"user", token.user},
                {"name", token.name},
                {"scope", registry::TokenScopeName(token.scope)},
                {"state", TokenState(token, now_ms)},
                {"created_at", FormatIsoMillis(token.created_at_ms)},
                {"expires_at", TimeOrNull(token.expires_at_ms)},
                {"revoked_at", TimeOrNull(token.revoked_at_ms)}};
      },
      [now_ms](const registry::TokenInfo& token) {
        std::string line =
            token.name + " of " + token.user + ": " +
            std::string(registry::TokenScopeName(token.scope)) + ", " + TokenState(token, now_ms) +
            ", created " + FormatIsoMillis(token.created_at_ms) + ", expires " +
            (token.expires_at_ms == 0 ? "never" : FormatIsoMillis(token.expires_at_ms));
        if (token.revoked_at_ms != 0) line += ", revoked " + FormatIsoMillis(token.revoked_at_ms);
        return line;
      });
}

// ------------------------------------------------------------------------------ registration

void AddUserCommands(CLI::App& app, const CommonOptions& common, int* exit_code) {
  CLI::App* user = AddCommandGroup(app, "user", "the people and robots (CI) who may hold tokens");

  auto add_args = std::make_shared<UserArgs>();
  CLI::App* add = user->add_subcommand("add", "add a user");
  add->add_option("NAME", add_args->name, "user name")->required()->check(AccountName());
  add->add_flag("--admin", add_args->admin, "administers the whole instance");
  add->add_flag("--robot", add_args->robot, "no person behind it (CI)");
  add->callback([&common, add_args, exit_code] { *exit_code = RunUserAdd(common, *add_args); });

  auto list_json = std::make_shared<bool>(false);
  CLI::App* list = user->add_subcommand("list", "list the users");
  list->add_flag("--json", *list_json, "one JSON document");
  list->callback([&common, list_json, exit_code] { *exit_code = RunUserList(common, *list_json); });

  auto remove_args = std::make_shared<UserArgs>();
  CLI::App* remove =
      user->add_subcommand("remove", "remove a user with their tokens, memberships and access");
  remove->add_option("NAME", remove_args->name, "user name")->required()->check(AccountName());
  remove->callback(
      [&common, remove_args, exit_code] { *exit_code = RunUserRemove(common, *remove_args); });
}

void AddOrgCommands(CLI::App& app, const CommonOptions& common, int* exit_code) {
  CLI::App* org =
      AddCommandGroup(app, "org", "organizations: namespaces whose members share access");

  auto add_args = std::make_shared<OrgArgs>();
  CLI::App* add = org->add_subcommand("add", "add an organization");
  add->add_option("ORG", add_args->org, "organization name")->required()->check(AccountName());
  add->callback([&common, add_args, exit_code] { *exit_code = RunOrgAdd(common, *add_args); });

  auto member_args = std::make_shared<OrgArgs>();
  CLI::App* add_member =
      org->add_subcommand("add-member", "add a member, or change the role of one");
  add_member->add_option("ORG", member_args->org, "organization name")
      ->required()
      ->check(AccountName());
  add_member->add_option("USER", member_args->user, "user name")->required()->check(AccountName());
  add_member
      ->add_option("--role", member_args->role,
                   "read its private repos; write: also change them and decide access requests; "
                   "admin: also administer the organization")
      ->required()
      ->check(CLI::IsMember({"read", "write", "admin"}));
  add_member->callback(
      [&common, member_args, exit_code] { *exit_code = RunOrgAddMember(common, *member_args); });

  auto remove_args = std::make_shared<OrgArgs>();
  CLI::App* remove_member = org->add_subcommand("remove-member", "remove a member");
  remove_member->add_option("ORG", remove_args->org, "organization name")
      ->required()
      ->check(AccountName());
  remove_member->add_option("USER", remove_args->user, "user name")
      ->required()
      ->check(AccountName());
  remove_member->callback(
      [&common, remove_args, exit_code] { *exit_code = RunOrgRemoveMember(common, *remove_args); });

  auto list_json = std::make_shared<bool>(false);
  CLI::App* list = org->add_subcommand("list", "list the organizations with their members");
  list->add_flag("--json", *list_json, "one JSON document");
  list->callback([&common, list_json, exit_code] { *exit_code = RunOrgList(common, *list_json); });
}

void AddTokenCommands(CLI::App& app, const CommonOptions& common, int* exit_code) {
  CLI::App* token =
      AddCommandGroup(app, "token", "access tokens of users (secrets are shown once)");

  auto create_args = std::make_shared<TokenArgs>();
  CLI::App* create = token->add_subcommand(
      "create", "create a token; its secret is printed alone on the last line of stdout");
  create->add_option("--user", create_args->user, "the token's user")
      ->required()
      ->check(AccountName());
  create->add_option("--scope", create_args->scope, "read, or write (also settings and admin)")
      ->capture_default_str()
      ->check(CLI::IsMember({"read", "write"}));
  AddDurationOption(create, "--expires", &create_args->expires_seconds,
                    "expires after this long (30s, 15m, 24h, 90d); default never");
  create->add_option("--name", create_args->name, "token name (default token-N)")
      ->check(AccountName());
  create->callback(
      [&common, create_args, exit_code] { *exit_code = RunTokenCreate(common, *create_args); });

  auto list_args = std::make_shared<TokenArgs>();
  CLI::App* list = token->add_subcommand("list", "list tokens, never their secrets");
  list->add_option("--user", list_args->user, "only this user's")->check(AccountName());
  list->add_flag("--json", list_args->json, "one JSON document");
  list->callback(
      [&common, list_args, exit_code] { *exit_code = RunTokenList(common, *list_args); });

  auto revoke_args = std::make_shared<TokenArgs>();
  CLI::App* revoke =
      token->add_subcommand("revoke", "revoke a token, from the server's next request on");
  revoke->add_option("NAME", revoke_args->name, "token name")->required()->check(AccountName());
  revoke->add_option("--user", revoke_args->user, "the token's user")
      ->required()
      ->check(AccountName());
  revoke->callback(
      [&common, revoke_args, exit_code] { *exit_code = RunTokenRevoke(common, *revoke_args); });
}

}  // namespace

void AddIdentityCommands(CLI::App& app, const CommonOptions& common, int* exit_code) {
  AddUserCommands(app, common, exit_code);
  AddOrgCommands(app, common, exit_code);
  AddTokenCommands(app, common, exit_code);
}

}  // namespace hubmirror::cli
