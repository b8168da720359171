// Access control as Dispatch applies it: tokens, visibility, gating, access requests, settings
// and whoami, called as functions over a real registry and store.
#include <openssl/evp.h>

#include <algorithm>
#include <catch2/catch.hpp>

#include "api/dispatch.h"
#include "common/clock.h"
#include "common/tokens.h"
#include "sync/local_import.h"
#include "tests/fakes/mirror_fixture.h"

namespace hubmirror::api {
namespace {

using nlohmann::json;
using registry::OrgRole;
using registry::TokenScope;
using testing::WriteFile;

// Four repos (public, gated manual, gated auto, private to the organization "team") and the
// people around them, each user with a read token (the owner of "up" also has a write token).
struct AccessFixture : testing::MirrorFixture {
  AccessFixture() {
    for (const char* repo : {"up/open", "up/gated", "up/auto", "team/secret"}) {
      std::filesystem::path source = dir / "src" / repo;
      WriteFile(source / "README.md",
                "---\nextra_gated_prompt: Use it kindly\n---\n# " + std::string(repo) + "\n");
      WriteFile(source / "model.safetensors", std::string(1000, 'w'));
      sync::ImportOptions options;
      options.repo = repo;
      options.source = source;
      REQUIRE(sync::ImportFolder(*local_store, *registry, options).ok());
    }
    Set("up/gated", {std::nullopt, "manual"});
    Set("up/auto", {std::nullopt, "auto"});
    Set("team/secret", {true, std::nullopt});
    for (const char* org : {"up", "team"}) REQUIRE(registry->AddOrg(org).ok());
    for (const char* user : {"outsider", "granted", "member", "owner", "boss"}) {
      REQUIRE(registry->AddUser(user, std::string(user) == "boss", false).ok());
      tokens[user] = NewToken(user, "read", TokenScope::kRead);
    }
    REQUIRE(registry->SetOrgMember("team", "member", OrgRole::kRead).ok());
    REQUIRE(registry->SetOrgMember("up", "owner", OrgRole::kAdmin).ok());
    tokens["owner-write"] = NewToken("owner", "write", TokenScope::kWrite);
    for (const char* repo : {"up/gated", "team/secret"}) {
      REQUIRE(registry
                  ->DecideAccess(RepoType::kModel, repo, "granted",
                                 registry::AccessStatus::kAccepted, "owner", "")
                  .ok());
    }
    auto writer = registry::Registry::Open(dir / "data" / "registry.db",
                                           registry::Registry::Mode::kReadWrite);
    REQUIRE(writer.ok());
    access = std::make_unique<AccessServices>(
        AccessPolicy{}, std::make_unique<RegistryWriter>(std::move(writer.value())));
  }

  void Set(const std::string& repo, registry::RepoAccessSettings settings) {
    REQUIRE(registry->SetAccessSettings(RepoType::kModel, repo, settings).ok());
  }

  std::string NewToken(const std::string& user, const std::string& name, TokenScope scope,
                       int64_t expires_at_ms = 0) {
    std::string secret = NewTokenSecret().value();
    REQUIRE(registry->AddToken(user, name, TokenSecretHash(secret), scope, expires_at_ms).ok());
    return secret;
  }

  Response Call(http::verb method, const std::string& target, const std::string& token = "",
                const std::string& body = "", const std::string& address = "10.0.0.1") {
    Request request(method, target, 11);
    request.set(http::field::host, "mirror.test");
    if (!token.empty()) request.set(http::field::authorization, "Bearer " + token);
    if (!body.empty()) {
      request.set(http::field::content_type, "application/json");
      request.body() = body;
      request.prepare_payload();
    }
    DispatchEnvironment environment{registry.get(),       *local_store, 16u << 20,    *key,
                                    "http://mirror.test", nullptr,      access.get(), address};
    return Dispatch(request, environment);
  }
  Response Get(const std::string& target, const std::string& token = "") {
    return Call(http::verb::get, target, token);
  }

  std::shared_ptr<const SigningKey> key =
      std::move(SigningKey::LoadOrCreate(dir / "key.pem").value());
  std::map<std::string, std::string> tokens;
  std::unique_ptr<AccessServices> access;
};

std::string Header(const Response& response, std::string_view name) {
  for (const auto& [key, value] : response.headers) {
    if (key == name) return value;
  }
  return "";
}

int Status(const Response& response) { return static_cast<int>(response.status); }

std::vector<std::string> ListedIds(AccessFixture& f, const std::string& token) {
  json listed = json::parse(f.Get("/api/models?limit=100", token).body);
  std::vector<std::string> ids;
  for (const auto& item : listed) ids.push_back(item["id"]);
  return ids;
}

TEST_CASE("Who reads what: public, gated and private repos for each caller", "[access]") {
  AccessFixture f;
  struct Cell {
    const char* caller;  // a token name of the fixture, or "" for anonymous
    const char* repo;
    int info;
    int file;
    const char* code;  // X-Error-Code of a refused file
  };
  std::vector<Cell> cells = {
      {"", "up/open", 200, 200, ""},
      {"", "up/gated", 200, 401, "GatedRepo"},
      {"", "team/secret", 404, 404, "RepoNotFound"},
      {"outsider", "up/gated", 200, 403, "GatedRepo"},
      {"outsider", "up/auto", 200, 403, "GatedRepo"},
      {"outsider", "team/secret", 404, 404, "RepoNotFound"},
      {"granted", "up/gated", 200, 200, ""},
      {"granted", "team/secret", 200, 200, ""},
      {"member", "team/secret", 200, 200, ""},
      {"member", "up/gated", 200, 403, "GatedRepo"},
      {"owner", "up/gated", 200, 200, ""},
      {"boss", "team/secret", 200, 200, ""},
      {"boss", "up/auto", 200, 200, ""},
  };
  for (const auto& cell : cells) {
    std::string token = *cell.caller ? f.tokens.at(cell.caller) : "";
    INFO(cell.caller << " on " << cell.repo);
    CHECK(Status(f.Get(std::string("/api/models/") + cell.repo, token)) == cell.info);
    Response file = f.Get(std::string("/") + cell.repo + "/resolve/main/model.safetensors", token);
    CHECK(Status(file) == cell.file);
    CHECK(Header(file, "X-Error-Code") == cell.code);
    // The other routes of a hidden repo answer as a missing one; a gated one's stay open.
    for (const char* route : {"/tree/main", "/refs", "/commits/main"}) {
      CHECK(Status(f.Get(std::string("/api/models/") + cell.repo + route, token)) == cell.info);
    }
    CHECK(Status(f.Get(std::string("/") + cell.repo + "/raw/main/README.md", token)) ==
          (cell.file == 200 ? 200 : cell.file));
  }
  Response anonymous = f.Get("/up/gated/resolve/main/model.safetensors");
  CHECK(Header(anonymous, "WWW-Authenticate") == "Bearer realm=\"Authentication required\"");
  CHECK_THAT(Header(anonymous, "X-Error-Message"), Catch::Contains("Please log in"));
  Response outsider = f.Get("/up/gated/resolve/main/model.safetensors", f.tokens["outsider"]);
  CHECK_THAT(Header(outsider, "X-Error-Message"),
             Catch::Contains("Visit http://mirror.test/up/gated to ask for access"));
  // A hidden repo with a revision it lacks still does not exist.
  CHECK(Header(f.Get("/team/secret/resolve/nope/x"), "X-Error-Code") == "RepoNotFound");

  std::vector<std::string> everyone = {"team/secret", "up/auto", "up/gated", "up/open"};
  std::vector<std::string> public_only = {"up/auto", "up/gated", "up/open"};
  CHECK(ListedIds(f, "") == public_only);
  CHECK(ListedIds(f, f.tokens["outsider"]) == public_only);
  CHECK(ListedIds(f, f.tokens["member"]) == everyone);
  CHECK(ListedIds(f, f.tokens["granted"]) == everyone);
  CHECK(ListedIds(f, f.tokens["boss"]) == everyone);
}

TEST_CASE("Bad, revoked and expired tokens are refused; Basic works", "[access]") {
  AccessFixture f;
  std::string expired = f.NewToken("outsider", "old", TokenScope::kRead, NowUnixMillis() - 1000);
  for (const std::string& token :
       {std::string("hf_") + std::string(34, 'x'), std::string("not-a-token"), expired}) {
    Response refused = f.Get("/api/models/up/open", token);
    CHECK(Status(refused) == 401);
    CHECK(Header(refused, "X-Error-Message") == "Invalid credentials in Authorization header");
    CHECK(refused.body.find(token) == std::string::npos);
  }
  std::string token = f.tokens["granted"];
  CHECK(Status(f.Get("/up/gated/resolve/main/model.safetensors", token)) == 200);
  REQUIRE(f.registry->RevokeToken("granted", "read").ok());
  CHECK(Status(f.Get("/up/gated/resolve/main/model.safetensors", token)) == 401);

  // git sends the token as the password of Basic authentication.
  Request request(http::verb::get, "/up/gated/resolve/main/model.safetensors", 11);
  std::string credentials = "git:" + f.tokens["owner"];
  std::string encoded(4 * ((credentials.size() + 2) / 3), '\0');
  EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()),
                  reinterpret_cast<const unsigned char*>(credentials.data()),
                  static_cast<int>(credentials.size()));
  request.set(http::field::authorization, "Basic " + encoded);
  DispatchEnvironment environment{f.registry.get(), *f.local_store, 16u << 20,      *f.key,
                                  "http://m",       nullptr,        f.access.get(), "10.0.0.2"};
  CHECK(Status(Dispatch(request, environment)) == 200);
}

TEST_CASE("An address sending bad tokens is slowed down, others are not", "[access]") {
  AccessFixture f;
  std::string bad = std::string("hf_") + std::string(34, 'y');
  for (int i = 0; i < AccessServices::kBadTokensPerMinute; ++i) {
    REQUIRE(Status(f.Call(http::verb::get, "/api/models/up/open", bad, "", "10.9.9.9")) == 401);
  }
  Response limited = f.Call(http::verb::get, "/api/models/up/open", bad, "", "10.9.9.9");
  CHECK(Status(limited) == 429);
  CHECK_FALSE(Header(limited, "Retry-After").empty());
  CHECK(Status(f.Call(http::verb::get, "/api/models/up/open", f.tokens["owner"], "", "10.1.1.1")) ==
        200);
}

TEST_CASE("whoami-v2 describes the caller and the token", "[access]") {
  AccessFixture f;
  CHECK(Status(f.Get("/api/whoami-v2")) == 401);
  Response me = f.Get("/api/whoami-v2", f.tokens["owner-write"]);
  REQUIRE(Status(me) == 200);
  json body = json::parse(me.body);
  CHECK(body["name"] == "owner");
  CHECK(body["type"] == "user");
  REQUIRE(body["orgs"].size() == 1);
  CHECK(body["orgs"][0]["name"] == "up");
  CHECK(body["auth"]["accessToken"]["displayName"] == "write");
  CHECK(body["auth"]["accessToken"]["role"] == "write");
}

TEST_CASE("Asking for access: auto grants at once, manual waits for a manager", "[access]") {
  AccessFixture f;
  std::string outsider = f.tokens["outsider"];
  CHECK(Status(f.Call(http::verb::post, "/up/auto/ask-access")) == 401);
  Response asked = f.Call(http::verb::post, "/up/auto/ask-access", outsider);
  REQUIRE(Status(asked) == 200);
  CHECK(json::parse(asked.body)["status"] == "accepted");
  CHECK(Status(f.Get("/up/auto/resolve/main/model.safetensors", outsider)) == 200);

  REQUIRE(json::parse(f.Call(http::verb::post, "/up/gated/ask-access", outsider).body)["status"] ==
          "pending");
  CHECK(Status(f.Get("/up/gated/resolve/main/model.safetensors", outsider)) == 403);
  // Listing and deciding need a manager; deciding needs a write token.
  CHECK(Status(f.Get("/api/models/up/gated/user-access-request/pending", outsider)) == 403);
  json pending = json::parse(
      f.Get("/api/models/up/gated/user-access-request/pending", f.tokens["owner"]).body);
  REQUIRE(pending.size() == 1);
  CHECK(pending[0]["user"]["user"] == "outsider");
  CHECK(pending[0]["status"] == "pending");
  const std::string decision = R"({"user": "outsider", "status": "accepted"})";
  CHECK(Status(f.Call(http::verb::post, "/api/models/up/gated/user-access-request/handle",
                      f.tokens["owner"], decision)) == 403);
  CHECK(Status(f.Call(http::verb::post, "/api/models/up/gated/user-access-request/handle",
                      f.tokens["owner-write"], decision)) == 200);
  CHECK(Status(f.Get("/up/gated/resolve/main/model.safetensors", outsider)) == 200);
  CHECK(Status(f.Get("/api/models/up/gated/auth-check", outsider)) == 200);
  CHECK(Status(f.Get("/api/models/up/gated/auth-check/write", outsider)) == 403);

  auto events = f.registry->ListAudit(0, 100);
  REQUIRE(events.ok());
  std::vector<std::string> actions;
  for (const auto& event : *events) actions.push_back(event.action + " " + event.outcome);
  CHECK(std::count(actions.begin(), actions.end(), "access.request accepted") == 1);
  CHECK(std::count(actions.begin(), actions.end(), "access.request pending") == 1);
  CHECK(std::count(actions.begin(), actions.end(), "access.decide accepted") == 1);
  CHECK(std::count(actions.begin(), actions.end(), "content.refused refused") >= 1);
}

TEST_CASE("Settings change with a manager's write token", "[access]") {
  AccessFixture f;
  const std::string target = "/api/models/up/open/settings";
  CHECK(Status(f.Call(http::verb::put, target, "", R"({"private": true})")) == 401);
  CHECK(Status(f.Call(http::verb::put, target, f.tokens["outsider"], R"({"private": true})")) ==
        403);
  CHECK(Status(f.Call(http::verb::put, target, f.tokens["owner"], R"({"private": true})")) == 403);
  CHECK(Status(f.Call(http::verb::put, target, f.tokens["owner-write"], R"({"gated": "x"})")) ==
        400);
  CHECK(Status(f.Call(http::verb::put, target, f.tokens["owner-write"],
                      R"({"visibility": "private", "gated": "auto"})")) == 200);
  CHECK(Status(f.Get("/api/models/up/open")) == 404);
  json info = json::parse(f.Get("/api/models/up/open", f.tokens["owner"]).body);
  CHECK(info["private"] == true);
  CHECK(info["gated"] == "auto");
}

}  // namespace
}  // namespace hubmirror::api
