// Access control as Dispatch applies it: tokens, visibility, gating, access requests, settings
// and whoami, called as functions over a real registry and store.
#include <openssl/evp.h>

#include <algorithm>
#include <catch2/catch.hpp>

#include "common/clock.h"
#include "tests/api/access_fixture.h"

namespace hubmirror::api {
namespace {

using nlohmann::json;
using registry::TokenScope;

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

TEST_CASE("A server thread's remembered token is dropped by a revocation", "[access]") {
  AccessFixture f;
  // The server's connections are read-only: they remember answers while the registry is
  // unchanged, and the thread remembers the last token it checked.
  auto reader =
      registry::Registry::Open(f.dir / "data" / "registry.db", registry::Registry::Mode::kReadOnly);
  REQUIRE(reader.ok());
  REQUIRE((*reader)->ChangeCount() != 0);
  auto get = [&](const std::string& token) {
    Request request(http::verb::get, "/up/gated/resolve/main/model.safetensors", 11);
    request.set(http::field::authorization, "Bearer " + token);
    DispatchEnvironment environment{reader->get(), *f.local_store, 16u << 20,      *f.key,
                                    "http://m",    nullptr,        f.access.get(), "10.0.0.3"};
    return Status(Dispatch(request, environment));
  };
  std::string token = f.tokens["granted"];
  CHECK(get(token) == 200);
  CHECK(get(token) == 200);
  CHECK(get(f.tokens["outsider"]) == 403);
  CHECK(get(token) == 200);
  REQUIRE(f.registry->RevokeToken("granted", "read").ok());
  CHECK(get(token) == 401);
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
