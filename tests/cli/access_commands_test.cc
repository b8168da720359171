// The user, org, token, repo settings, access and audit commands, run through the command line
// on a data directory, checked against what the registry then holds.
#include <catch2/catch.hpp>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/commands.h"
#include "common/clock.h"
#include "common/tokens.h"
#include "registry/registry.h"
#include "tests/support/temp_dir.h"

namespace hubmirror::cli {
namespace {

using testing::TempDir;
using testing::WriteFile;

struct Outcome {
  int exit_code = -1;
  std::string out;  // what went to stdout
};

// Sends std::cout to a string for as long as it lives.
class CapturedStdout {
 public:
  CapturedStdout() : previous_(std::cout.rdbuf(captured_.rdbuf())) {}
  ~CapturedStdout() { std::cout.rdbuf(previous_); }
  std::string str() const { return captured_.str(); }

 private:
  std::ostringstream captured_;
  std::streambuf* previous_;
};

// `hubmirror --data DATA ARGS...`.
Outcome Hubmirror(const std::filesystem::path& data, const std::vector<std::string>& args) {
  std::string data_arg = data.string();
  std::vector<const char*> argv = {"hubmirror", "--data", data_arg.c_str()};
  for (const auto& arg : args) argv.push_back(arg.c_str());
  CapturedStdout captured;
  int exit_code = RunCommandLine(static_cast<int>(argv.size()), argv.data());
  return {exit_code, captured.str()};
}

nlohmann::json JsonOf(const Outcome& outcome) {
  REQUIRE(outcome.exit_code == kExitOk);
  nlohmann::json parsed = nlohmann::json::parse(outcome.out, nullptr, false);
  REQUIRE_FALSE(parsed.is_discarded());
  return parsed;
}

std::string LastLine(const std::string& text) {
  std::string trimmed = text.substr(0, text.find_last_not_of('\n') + 1);
  return trimmed.substr(trimmed.rfind('\n') + 1);
}

TEST_CASE("Users, organizations, tokens, settings and grants from the command line", "[cli]") {
  TempDir dir;
  std::filesystem::path data = dir / "data";
  WriteFile(dir / "src" / "config.json", "{}\n");
  REQUIRE(Hubmirror(data, {"import", "--repo", "acme/m", (dir / "src").string()}).exit_code ==
          kExitOk);
  auto open = [&] {
    auto registry =
        registry::Registry::Open(data / "registry.db", registry::Registry::Mode::kReadWrite);
    REQUIRE(registry.ok());
    return std::move(registry.value());
  };

  // Users and organizations.
  CHECK(Hubmirror(data, {"user", "add", "alice"}).exit_code == kExitOk);
  CHECK(Hubmirror(data, {"user", "add", "root", "--admin"}).exit_code == kExitOk);
  CHECK(Hubmirror(data, {"user", "add", "ci", "--robot"}).exit_code == kExitOk);
  CHECK(Hubmirror(data, {"user", "add", "Alice"}).exit_code == kExitProblem);  // taken
  nlohmann::json users = JsonOf(Hubmirror(data, {"user", "list", "--json"}))["users"];
  REQUIRE(users.size() == 3);
  CHECK(users[0]["name"] == "alice");
  CHECK(users[0]["admin"] == false);
  CHECK(users[1]["name"] == "ci");
  CHECK(users[1]["robot"] == true);
  CHECK(users[2]["name"] == "root");
  CHECK(users[2]["admin"] == true);

  CHECK(Hubmirror(data, {"org", "add", "acme"}).exit_code == kExitOk);
  CHECK(Hubmirror(data, {"org", "add-member", "acme", "alice", "--role", "write"}).exit_code ==
        kExitOk);
  CHECK(Hubmirror(data, {"org", "add-member", "acme", "nobody", "--role", "read"}).exit_code ==
        kExitProblem);
  nlohmann::json orgs = JsonOf(Hubmirror(data, {"org", "list", "--json"}))["orgs"];
  REQUIRE(orgs.size() == 1);
  CHECK(orgs[0]["name"] == "acme");
  CHECK(orgs[0]["members"] == nlohmann::json::parse(R"([{"user": "alice", "role": "write"}])"));

  // Tokens: the secret is the last line of stdout, once; only its hash is kept.
  Outcome created = Hubmirror(data, {"token", "create", "--user", "alice", "--scope", "write",
                                     "--expires", "90d", "--name", "laptop"});
  REQUIRE(created.exit_code == kExitOk);
  std::string secret = LastLine(created.out);
  CHECK(secret.starts_with("hf_"));
  CHECK(LooksLikeTokenSecret(secret));
  Outcome unnamed = Hubmirror(data, {"token", "create", "--user", "alice"});
  REQUIRE(unnamed.exit_code == kExitOk);
  std::string other_secret = LastLine(unnamed.out);
  CHECK(LooksLikeTokenSecret(other_secret));
  CHECK(other_secret != secret);
  CHECK(Hubmirror(data, {"token", "create", "--user", "nobody"}).exit_code == kExitProblem);
  {
    auto principal = open()->FindPrincipal(TokenSecretHash(secret), NowUnixMillis());
    REQUIRE(principal.ok());
    REQUIRE(principal->has_value());
    CHECK((*principal)->user.name == "alice");
    CHECK((*principal)->token.scope == registry::TokenScope::kWrite);
    CHECK((*principal)->token.expires_at_ms > NowUnixMillis() + int64_t{89} * 86400 * 1000);
  }
  // `--data` may follow the subcommand's own options too.
  std::vector<const char*> argv = {"hubmirror", "token",  "list",   "--user",
                                   "alice",     "--json", "--data", nullptr};
  std::string data_arg = data.string();
  argv.back() = data_arg.c_str();
  std::string listed;
  {
    CapturedStdout captured;
    REQUIRE(RunCommandLine(static_cast<int>(argv.size()), argv.data()) == kExitOk);
    listed = captured.str();
  }
  for (const std::string& leak :
       {secret, other_secret, TokenSecretHash(secret), std::string("hf_")}) {
    CHECK(listed.find(leak) == std::string::npos);
  }
  nlohmann::json tokens = nlohmann::json::parse(listed)["tokens"];
  REQUIRE(tokens.size() == 2);
  CHECK(tokens[0]["name"] == "laptop");
  CHECK(tokens[0]["scope"] == "write");
  CHECK(tokens[0]["state"] == "active");
  CHECK(tokens[0]["expires_at"].is_string());
  CHECK(tokens[1]["name"] == "token-1");
  CHECK(tokens[1]["scope"] == "read");
  CHECK(tokens[1]["expires_at"].is_null());

  CHECK(Hubmirror(data, {"token", "revoke", "laptop", "--user", "alice"}).exit_code == kExitOk);
  CHECK(Hubmirror(data, {"token", "revoke", "laptop", "--user", "root"}).exit_code == kExitProblem);
  {
    auto principal = open()->FindPrincipal(TokenSecretHash(secret), NowUnixMillis());
    REQUIRE(principal.ok());
    CHECK_FALSE(principal->has_value());
  }
  tokens = JsonOf(Hubmirror(data, {"token", "list", "--json"}))["tokens"];
  REQUIRE(tokens.size() == 2);
  CHECK(tokens[0]["state"] == "revoked");
  CHECK(tokens[0]["revoked_at"].is_string());

  // Settings: shown, changed, shown again; an unknown repo is a problem, not a usage error.
  Outcome shown = Hubmirror(data, {"repo", "settings", "acme/m"});
  CHECK(shown.exit_code == kExitOk);
  CHECK_THAT(shown.out, Catch::Contains("private false") && Catch::Contains("gated false"));
  Outcome changed =
      Hubmirror(data, {"repo", "settings", "acme/m", "--private", "true", "--gated", "manual"});
  CHECK(changed.exit_code == kExitOk);
  CHECK_THAT(changed.out, Catch::Contains("private true (set here)") &&
                              Catch::Contains("gated manual (set here)"));
  CHECK(Hubmirror(data, {"repo", "settings", "acme/none", "--gated", "auto"}).exit_code ==
        kExitProblem);
  {
    auto repo = open()->FindRepo(RepoType::kModel, "acme/m");
    REQUIRE(repo.ok());
    CHECK(repo->is_private);
    CHECK(repo->gated == "manual");
  }

  // Grants.
  auto has_access = [&] {
    auto registry = open();
    auto repo = registry->FindRepo(RepoType::kModel, "acme/m");
    auto user = registry->FindUser("alice");
    REQUIRE(repo.ok());
    REQUIRE(user.ok());
    auto access = registry->HasAccess(*repo, user->id);
    REQUIRE(access.ok());
    return *access;
  };
  CHECK_FALSE(has_access());
  CHECK(Hubmirror(data, {"access", "grant", "acme/m", "--user", "alice"}).exit_code == kExitOk);
  CHECK(has_access());
  CHECK(Hubmirror(data, {"access", "grant", "acme/m", "--type", "dataset", "--user", "alice"})
            .exit_code == kExitProblem);
  CHECK(Hubmirror(data, {"access", "revoke", "acme/m", "--user", "alice"}).exit_code == kExitOk);
  CHECK_FALSE(has_access());
  CHECK(Hubmirror(data, {"access", "revoke", "acme/m", "--user", "alice"}).exit_code ==
        kExitProblem);

  CHECK(Hubmirror(data, {"org", "remove-member", "acme", "alice"}).exit_code == kExitOk);
  CHECK(Hubmirror(data, {"user", "remove", "ci"}).exit_code == kExitOk);
  CHECK(Hubmirror(data, {"user", "remove", "ci"}).exit_code == kExitProblem);

  // The audit log has what succeeded, in order, by the operator; never a secret.
  Outcome audit = Hubmirror(data, {"audit", "--since", "1h", "--json"});
  for (const std::string& leak : {secret, other_secret, TokenSecretHash(secret)}) {
    CHECK(audit.out.find(leak) == std::string::npos);
  }
  nlohmann::json events = JsonOf(audit)["events"];
  std::vector<std::string> actions;
  for (const auto& event : events) {
    actions.push_back(event["action"]);
    CHECK(event["actor"] == "operator");
    CHECK(event["address"] == "");
    CHECK(event["outcome"] == "ok");
  }
  CHECK(actions == std::vector<std::string>{"user.add", "user.add", "user.add", "org.add",
                                            "org.member.set", "token.create", "token.create",
                                            "token.revoke", "repo.settings", "access.grant",
                                            "access.revoke", "org.member.remove", "user.remove"});
  CHECK(events[5]["target"] == "token laptop of alice");
  CHECK(events[5]["detail"]["scope"] == "write");
  CHECK(events[8]["target"] == "model acme/m");
  CHECK(events[8]["detail"] == nlohmann::json::parse(R"({"private": true, "gated": "manual"})"));
  CHECK(events[9]["detail"]["user"] == "alice");
  nlohmann::json first_two = JsonOf(Hubmirror(data, {"audit", "--json", "--limit", "2"}));
  CHECK(first_two["events"].size() == 2);
  CHECK(first_two["more"] == true);
  CHECK(JsonOf(audit)["more"] == false);

  Outcome text = Hubmirror(data, {"audit"});
  CHECK(text.exit_code == kExitOk);
  CHECK_THAT(text.out, Catch::Contains("operator token.revoke token laptop of alice: ok"));
}

}  // namespace
}  // namespace hubmirror::cli
