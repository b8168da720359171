// The admin API (/api/admin/...) as Dispatch answers it: who may call it, each route's changes
// and answers, tokens created and revoked over HTTP, and the audit log they leave.
#include <algorithm>
#include <catch2/catch.hpp>

#include "common/clock.h"
#include "common/tokens.h"
#include "tests/api/access_fixture.h"

namespace hubmirror::api {
namespace {

using nlohmann::json;
using registry::TokenScope;

// The fixture with a write token of the server admin "boss".
struct AdminFixture : AccessFixture {
  AdminFixture() { tokens["boss-write"] = NewToken("boss", "write", TokenScope::kWrite); }

  // A call as the admin with the write token; its JSON body (null when it is not JSON).
  Response Admin(http::verb method, const std::string& target, const std::string& body = "") {
    return Call(method, target, tokens["boss-write"], body);
  }
  json AdminJson(http::verb method, const std::string& target, const std::string& body = "") {
    Response response = Admin(method, target, body);
    INFO(target << ": " << response.body);
    REQUIRE(Status(response) == 200);
    return json::parse(response.body, nullptr, false);
  }

  // "action target" of each audit event by `actor`, oldest first.
  std::vector<std::string> AuditedBy(const std::string& actor) {
    auto events = registry->ListAudit(0, 1000);
    REQUIRE(events.ok());
    std::vector<std::string> done;
    for (const auto& event : *events) {
      if (event.actor == actor) done.push_back(event.action + " " + event.target);
    }
    return done;
  }
};

struct AdminCall {
  http::verb method;
  const char* target;
  const char* body;
};

// Every route, with a valid body: a refusal must come before anything is read or changed.
const std::vector<AdminCall> kCalls = {
    {http::verb::get, "/api/admin/users", ""},
    {http::verb::post, "/api/admin/users", R"({"name": "eve"})"},
    {http::verb::delete_, "/api/admin/users/outsider", ""},
    {http::verb::get, "/api/admin/orgs", ""},
    {http::verb::post, "/api/admin/orgs", R"({"name": "evil"})"},
    {http::verb::put, "/api/admin/orgs/team/members/outsider", R"({"role": "admin"})"},
    {http::verb::delete_, "/api/admin/orgs/team/members/member", ""},
    {http::verb::get, "/api/admin/tokens", ""},
    {http::verb::get, "/api/admin/tokens?user=owner", ""},
    {http::verb::post, "/api/admin/tokens", R"({"user": "outsider", "scope": "write"})"},
    {http::verb::delete_, "/api/admin/tokens/boss/read", ""},
    {http::verb::post, "/api/admin/access", R"({"repo": "team/secret", "user": "outsider"})"},
    {http::verb::delete_, "/api/admin/access", R"({"repo": "up/gated", "user": "granted"})"},
    {http::verb::get, "/api/admin/audit", ""},
    {http::verb::get, "/api/admin/audit?since=1h&limit=5", ""},
};

TEST_CASE("Admin routes refuse anonymous callers, non-admins and read tokens", "[admin]") {
  AdminFixture f;
  for (const auto& route : kCalls) {
    INFO(http::to_string(route.method) << " " << route.target);
    bool change = route.method != http::verb::get;
    Response anonymous = f.Call(route.method, route.target, "", route.body);
    CHECK(Status(anonymous) == 401);
    CHECK(Header(anonymous, "X-Error-Code") == "Unauthorized");
    // A namespace admin with a write token is not a server admin.
    for (const char* caller : {"outsider", "owner-write"}) {
      Response refused = f.Call(route.method, route.target, f.tokens[caller], route.body);
      CHECK(Status(refused) == 403);
      CHECK(Header(refused, "X-Error-Code") == "Forbidden");
    }
    Response read_token = f.Call(route.method, route.target, f.tokens["boss"], route.body);
    CHECK(Status(read_token) == (change ? 403 : 200));
    if (change) CHECK_THAT(read_token.body, Catch::Contains("write token"));
  }
  // Nothing changed, and the refusals are on record.
  CHECK(f.registry->FindUser("eve").status().code() == StatusCode::kNotFound);
  CHECK(f.registry->FindUser("outsider").ok());
  CHECK(Status(f.Get("/up/gated/resolve/main/model.safetensors", f.tokens["granted"])) == 200);
  CHECK(Status(f.Get("/api/models/team/secret", f.tokens["outsider"])) == 404);
  CHECK(Status(f.Get("/api/whoami-v2", f.tokens["boss"])) == 200);
  std::vector<std::string> refused = f.AuditedBy("outsider");
  CHECK(std::count(refused.begin(), refused.end(), "admin.refused POST /api/admin/users") == 1);
  std::vector<std::string> by_admin = f.AuditedBy("boss");
  CHECK_FALSE(by_admin.empty());
  for (const auto& event : by_admin) CHECK(event.starts_with("admin.refused "));
}

TEST_CASE("Admins manage users, organizations and members over HTTP", "[admin]") {
  AdminFixture f;
  json added =
      f.AdminJson(http::verb::post, "/api/admin/users", R"({"name": "ci", "robot": true})");
  CHECK(added["name"] == "ci");
  CHECK(added["robot"] == true);
  CHECK(added["admin"] == false);
  CHECK(added["created_at"].is_string());
  CHECK(f.AdminJson(http::verb::post, "/api/admin/users",
                    R"({"name": "root", "admin": true})")["admin"] == true);
  Response taken = f.Admin(http::verb::post, "/api/admin/users", R"({"name": "CI"})");
  CHECK(Status(taken) == 409);
  CHECK(Header(taken, "X-Error-Code") == "Conflict");
  for (const char* bad : {R"({"name": "a/b"})", R"({"name": "-x"})", R"({"name": 3})", "{}",
                          R"({"name": "x", "admin": "yes"})", "[]", "not json"}) {
    INFO(bad);
    Response refused = f.Admin(http::verb::post, "/api/admin/users", bad);
    CHECK(Status(refused) == 400);
    CHECK_FALSE(Header(refused, "X-Error-Message").empty());
  }
  json users = f.AdminJson(http::verb::get, "/api/admin/users")["users"];
  std::vector<std::string> names;
  for (const auto& user : users) names.push_back(user["name"]);
  CHECK(names ==
        std::vector<std::string>{"boss", "ci", "granted", "member", "outsider", "owner", "root"});
  CHECK(users[1] == added);

  json org = f.AdminJson(http::verb::post, "/api/admin/orgs", R"({"name": "lab"})");
  CHECK(org["name"] == "lab");
  CHECK(org["members"] == json::array());
  CHECK(Status(f.Admin(http::verb::post, "/api/admin/orgs", R"({"name": "ci"})")) == 409);
  json member =
      f.AdminJson(http::verb::put, "/api/admin/orgs/lab/members/ci", R"({"role": "write"})");
  CHECK(member == json::parse(R"({"org": "lab", "user": "ci", "role": "write"})"));
  CHECK(Status(f.Admin(http::verb::put, "/api/admin/orgs/lab/members/ci",
                       R"({"role": "owner"})")) == 400);
  Response no_org =
      f.Admin(http::verb::put, "/api/admin/orgs/nolab/members/ci", R"({"role": "read"})");
  CHECK(Status(no_org) == 404);
  CHECK(Header(no_org, "X-Error-Code") == "NotFound");
  CHECK(Status(f.Admin(http::verb::put, "/api/admin/orgs/lab/members/nobody",
                       R"({"role": "read"})")) == 404);
  json orgs = f.AdminJson(http::verb::get, "/api/admin/orgs")["orgs"];
  REQUIRE(orgs.size() == 3);
  CHECK(orgs[0]["name"] == "lab");
  CHECK(orgs[0]["members"] == json::parse(R"([{"user": "ci", "role": "write"}])"));
  CHECK(f.AdminJson(http::verb::delete_, "/api/admin/orgs/lab/members/ci") == json::object());
  CHECK(Status(f.Admin(http::verb::delete_, "/api/admin/orgs/lab/members/ci")) == 404);

  CHECK(f.AdminJson(http::verb::delete_, "/api/admin/users/ci") == json::object());
  Response gone = f.Admin(http::verb::delete_, "/api/admin/users/ci");
  CHECK(Status(gone) == 404);
  CHECK(Header(gone, "X-Error-Code") == "NotFound");
  CHECK(Status(f.Admin(http::verb::delete_, "/api/admin/users/a%20b")) == 400);
  CHECK(Status(f.Admin(http::verb::get, "/api/admin/users/root")) == 405);
  CHECK(Status(f.Admin(http::verb::get, "/api/admin/groups")) == 404);

  CHECK(f.AuditedBy("boss") == std::vector<std::string>{"user.add user ci", "user.add user root",
                                                        "org.add org lab", "org.member.set org lab",
                                                        "org.member.remove org lab",
                                                        "user.remove user ci"});
}

TEST_CASE("A token created over HTTP works until it is revoked over HTTP", "[admin]") {
  AdminFixture f;
  json created = f.AdminJson(http::verb::post, "/api/admin/tokens",
                             R"({"user": "granted", "name": "ci", "scope": "write",
                                 "expires": "90d"})");
  std::string secret = created["token"];
  CHECK(LooksLikeTokenSecret(secret));
  CHECK(created["user"] == "granted");
  CHECK(created["name"] == "ci");
  CHECK(created["scope"] == "write");
  CHECK(created["state"] == "active");
  std::optional<int64_t> expires = ParseIsoMillis(created["expires_at"].get<std::string>());
  REQUIRE(expires);
  CHECK(*expires > NowUnixMillis() + int64_t{89} * 86400 * 1000);
  CHECK(created["revoked_at"].is_null());

  json me = json::parse(f.Get("/api/whoami-v2", secret).body);
  CHECK(me["name"] == "granted");
  CHECK(me["auth"]["accessToken"]["role"] == "write");
  CHECK(Status(f.Get("/up/gated/resolve/main/model.safetensors", secret)) == 200);

  json unnamed = f.AdminJson(http::verb::post, "/api/admin/tokens", R"({"user": "granted"})");
  CHECK(unnamed["name"] == "token-1");
  CHECK(unnamed["scope"] == "read");
  CHECK(unnamed["expires_at"].is_null());
  for (const char* bad :
       {R"({"user": "granted", "scope": "admin"})", R"({"user": "granted", "expires": "1y"})",
        R"({"user": "granted", "expires": 90})", R"({"user": "granted", "name": "a b"})",
        R"({"name": "x"})"}) {
    INFO(bad);
    CHECK(Status(f.Admin(http::verb::post, "/api/admin/tokens", bad)) == 400);
  }
  CHECK(Status(f.Admin(http::verb::post, "/api/admin/tokens", R"({"user": "nobody"})")) == 404);
  CHECK(Status(f.Admin(http::verb::post, "/api/admin/tokens",
                       R"({"user": "granted", "name": "ci"})")) == 409);

  // Listings never carry a secret.
  Response listed = f.Admin(http::verb::get, "/api/admin/tokens?user=granted");
  REQUIRE(Status(listed) == 200);
  for (const std::string& leak : {secret, TokenSecretHash(secret), std::string("hf_")}) {
    CHECK(listed.body.find(leak) == std::string::npos);
  }
  json tokens = json::parse(listed.body)["tokens"];
  REQUIRE(tokens.size() == 3);
  CHECK(tokens[0]["name"] == "ci");
  CHECK(tokens[1]["name"] == "read");
  CHECK(tokens[2]["name"] == "token-1");
  CHECK(json::parse(f.Admin(http::verb::get, "/api/admin/tokens").body)["tokens"].size() == 9);
  CHECK(Status(f.Admin(http::verb::get, "/api/admin/tokens?user=nobody")) == 404);

  CHECK(f.AdminJson(http::verb::delete_, "/api/admin/tokens/granted/ci") == json::object());
  Response revoked = f.Get("/api/whoami-v2", secret);
  CHECK(Status(revoked) == 401);
  CHECK(Header(revoked, "X-Error-Message") == "Invalid credentials in Authorization header");
  CHECK(Status(f.Admin(http::verb::delete_, "/api/admin/tokens/granted/nope")) == 404);
  tokens = f.AdminJson(http::verb::get, "/api/admin/tokens?user=granted")["tokens"];
  CHECK(tokens[0]["state"] == "revoked");
  CHECK(tokens[0]["revoked_at"].is_string());
  // The admin may revoke their own token too: the next request with it is refused.
  CHECK(f.AdminJson(http::verb::delete_, "/api/admin/tokens/boss/write") == json::object());
  CHECK(Status(f.Admin(http::verb::get, "/api/admin/users")) == 401);
}

TEST_CASE("Grants over HTTP, and the audit log they leave", "[admin]") {
  AdminFixture f;
  const std::string file = "/up/gated/resolve/main/model.safetensors";
  const std::string grant = R"({"repo": "up/gated", "user": "outsider"})";
  CHECK(Status(f.Get(file, f.tokens["outsider"])) == 403);
  CHECK(f.AdminJson(http::verb::post, "/api/admin/access", grant) == json::object());
  CHECK(Status(f.Get(file, f.tokens["outsider"])) == 200);
  CHECK(f.AdminJson(http::verb::delete_, "/api/admin/access", grant) == json::object());
  CHECK(Status(f.Get(file, f.tokens["outsider"])) == 403);
  CHECK(Status(f.Admin(http::verb::delete_, "/api/admin/access", grant)) == 404);
  json open = f.AdminJson(http::verb::post, "/api/admin/access",
                          R"({"repo": "up/open", "type": "model", "user": "outsider"})");
  CHECK_THAT(open["warning"].get<std::string>(), Catch::Contains("public and not gated"));
  Response missing = f.Admin(http::verb::post, "/api/admin/access",
                             R"({"repo": "up/gated", "type": "dataset", "user": "outsider"})");
  CHECK(Status(missing) == 404);
  CHECK(Header(missing, "X-Error-Code") == "RepoNotFound");
  for (const char* bad :
       {R"({"repo": "up/gated", "type": "space", "user": "outsider"})",
        R"({"repo": "up/../x", "user": "outsider"})", R"({"repo": "up/gated"})"}) {
    INFO(bad);
    CHECK(Status(f.Admin(http::verb::post, "/api/admin/access", bad)) == 400);
  }
  CHECK(Status(f.Admin(http::verb::post, "/api/admin/access",
                       R"({"repo": "up/gated", "user": "nobody"})")) == 404);
  auto request = f.registry->ListAccessRequests(RepoType::kModel, "up/open", std::nullopt);
  REQUIRE(request.ok());
  REQUIRE(request->size() == 1);
  CHECK(request->front().decided_by == "boss");

  // The admin's changes, as the CLI's `audit --json` shows them, with who and from where.
  f.AdminJson(http::verb::post, "/api/admin/tokens", R"({"user": "owner", "name": "ci"})");
  json audit = f.AdminJson(http::verb::get, "/api/admin/audit?since=1h");
  CHECK(audit["more"] == false);
  std::vector<std::string> actions;
  for (const auto& event : audit["events"]) {
    if (event["actor"] != "boss") continue;
    actions.push_back(event["action"]);
    CHECK(event["address"] == "10.0.0.1");
    CHECK(event["outcome"] == "ok");
    CHECK(event["at"].is_string());
  }
  CHECK(actions ==
        std::vector<std::string>{"access.grant", "access.revoke", "access.grant", "token.create"});
  const json& created = audit["events"].back();
  CHECK(created["target"] == "token ci of owner");
  CHECK(created["detail"]["scope"] == "read");
  CHECK(created["detail"]["expires_at"].is_null());
  json first = f.AdminJson(http::verb::get, "/api/admin/audit?limit=2");
  CHECK(first["events"].size() == 2);
  CHECK(first["more"] == true);
  for (const char* bad : {"?since=1y", "?since=", "?limit=0", "?limit=x", "?limit=100000"}) {
    INFO(bad);
    CHECK(Status(f.Admin(http::verb::get, std::string("/api/admin/audit") + bad)) == 400);
  }
}

TEST_CASE("A server that cannot write answers admin changes with 503", "[admin]") {
  AdminFixture f;
  f.access = std::make_unique<AccessServices>(AccessPolicy{}, nullptr);
  Response refused = f.Admin(http::verb::post, "/api/admin/users", R"({"name": "ci"})");
  CHECK(Status(refused) == 503);
  CHECK(Header(refused, "X-Error-Code") == "ServiceUnavailable");
  CHECK(f.registry->FindUser("ci").status().code() == StatusCode::kNotFound);
  CHECK(Status(f.Admin(http::verb::get, "/api/admin/users")) == 200);
}

}  // namespace
}  // namespace hubmirror::api
