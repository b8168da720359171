// `hubmirror user`, `hubmirror org` and `hubmirror token`: the people of an instance, their
// organizations and their access tokens.
#include <iostream>
#include <nlohmann/json.hpp>

#include "api/admin_actions.h"
#include "api/identity_json.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "common/clock.h"
#include "registry/registry.h"

namespace hubmirror::cli {
namespace {

using registry::Registry;

// Prints a listing on stdout: one JSON document {"KEY": [...]} with `json`, else a line per item
// and their count ("3 users").
template <typename Item>
int PrintListing(const Result<std::vector<Item>>& items, bool json, const std::string& key,
                 const std::function<nlohmann::json(const Item&)>& as_json,
                 const std::function<std::string(const Item&)>& as_text) {
  if (!items.ok()) return ReportFailure(items.status());
  if (json) {
    std::cout << api::ListingJson(key, *items, as_json).dump(2) << std::endl;
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
  Status done = ApplyOperatorAction(common, [&](Registry& registry) {
    return api::AddUser(registry, args.name, args.admin, args.robot);
  });
  if (!done.ok()) return ReportFailure(done);
  std::cout << "added " << (args.admin ? "admin " : "") << (args.robot ? "robot " : "") << "user "
            << args.name << std::endl;
  return kExitOk;
}

int RunUserRemove(const CommonOptions& common, const UserArgs& args) {
  Status done = ApplyOperatorAction(
      common, [&](Registry& registry) { return api::RemoveUser(registry, args.name); });
  if (!done.ok()) return ReportFailure(done);
  std::cout << "removed user " << args.name << " with their tokens, memberships and access"
            << std::endl;
  return kExitOk;
}

int RunUserList(const CommonOptions& common, bool json) {
  auto registry = OpenExistingRegistry(common, Registry::Mode::kReadOnly);
  if (!registry.ok()) return ReportFailure(registry.status());
  return PrintListing<registry::User>(
      (*registry)->ListUsers(), json, "users", api::UserJson, [](const registry::User& user) {
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
  Status done = ApplyOperatorAction(
      common, [&](Registry& registry) { return api::AddOrg(registry, args.org); });
  if (!done.ok()) return ReportFailure(done);
  std::cout << "added organization " << args.org << std::endl;
  return kExitOk;
}

int RunOrgAddMember(const CommonOptions& common, const OrgArgs& args) {
  registry::OrgRole role;
  if (!registry::ParseOrgRole(args.role, &role)) {
    return ReportFailure(InvalidArgument("--role must be read, write or admin"));
  }
  Status done = ApplyOperatorAction(common, [&](Registry& registry) {
    return api::SetOrgMember(registry, args.org, args.user, role);
  });
  if (!done.ok()) return ReportFailure(done);
  std::cout << args.user << " is a member of " << args.org << " with role " << args.role
            << std::endl;
  return kExitOk;
}

int RunOrgRemoveMember(const CommonOptions& common, const OrgArgs& args) {
  Status done = ApplyOperatorAction(common, [&](Registry& registry) {
    return api::RemoveOrgMember(registry, args.org, args.user);
  });
  if (!done.ok()) return ReportFailure(done);
  std::cout << args.user << " is no longer a member of " << args.org << std::endl;
  return kExitOk;
}

int RunOrgList(const CommonOptions& common, bool json) {
  auto registry = OpenExistingRegistry(common, Registry::Mode::kReadOnly);
  if (!registry.ok()) return ReportFailure(registry.status());
  return PrintListing<registry::Org>(
      (*registry)->ListOrgs(), json, "orgs", api::OrgJson, [](const registry::Org& org) {
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

int RunTokenCreate(const CommonOptions& common, const TokenArgs& args) {
  api::TokenRequest request{args.user, args.name, registry::TokenScope::kRead,
                            args.expires_seconds};
  if (!registry::ParseTokenScope(args.scope, &request.scope)) {
    return ReportFailure(InvalidArgument("--scope must be read or write"));
  }
  api::CreatedToken created;
  Status done = ApplyOperatorAction(
      common, [&](Registry& registry) { return api::CreateToken(registry, request, &created); });
  if (!done.ok()) return ReportFailure(done);
  const registry::TokenInfo& token = created.info;
  std::cout << "created " << registry::TokenScopeName(token.scope) << " token " << token.name
            << " of " << token.user << ", expires "
            << (token.expires_at_ms == 0 ? "never" : FormatIsoMillis(token.expires_at_ms))
            << "; its secret is shown this once:" << std::endl
            << created.secret << std::endl;
  return kExitOk;
}

int RunTokenRevoke(const CommonOptions& common, const TokenArgs& args) {
  Status done = ApplyOperatorAction(
      common, [&](Registry& registry) { return api::RevokeToken(registry, args.user, args.name); });
  if (!done.ok()) return ReportFailure(done);
  std::cout << "revoked token " << args.name << " of " << args.user << std::endl;
  return kExitOk;
}

int RunTokenList(const CommonOptions& common, const TokenArgs& args) {
  auto registry = OpenExistingRegistry(common, Registry::Mode::kReadOnly);
  if (!registry.ok()) return ReportFailure(registry.status());
  int64_t now_ms = NowUnixMillis();
  return PrintListing<registry::TokenInfo>(
      (*registry)->ListTokens(args.user), args.json, "tokens",
      [now_ms](const registry::TokenInfo& token) { return api::TokenJson(token, now_ms); },
      [now_ms](const registry::TokenInfo& token) {
        std::string line =
            token.name + " of " + token.user + ": " +
            std::string(registry::TokenScopeName(token.scope)) + ", " +
            api::TokenState(token, now_ms) + ", created " + FormatIsoMillis(token.created_at_ms) +
            ", expires " +
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
