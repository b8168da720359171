// The web UI's pages through Dispatch, over a real registry and store with public, gated and
// private repos: access control on every page, the session cookie, forms from other sites, and
// the security headers.
#include "web/pages.h"

#include <catch2/catch.hpp>

#include "tests/api/access_fixture.h"
#include "web/html.h"

namespace hubmirror::web {
namespace {

using api::AccessFixture;
using api::Header;
using api::Response;

struct PagesFixture : AccessFixture {
  Response Page(http::verb method, const std::string& target, const std::string& cookie_token = "",
                const std::string& body = "", const std::string& origin = "http://mirror.test") {
    api::Request request(method, target, 11);
    request.set(http::field::host, "mirror.test");
    if (!cookie_token.empty()) {
      request.set(http::field::cookie, "theme=dark; hubmirror_token=" + cookie_token);
    }
    if (!origin.empty()) request.set(http::field::origin, origin);
    if (!body.empty()) {
      request.set(http::field::content_type, "application/x-www-form-urlencoded");
      request.body() = body;
      request.prepare_payload();
    }
    api::DispatchEnvironment environment{
        registry.get(),       *local_store, 16u << 20,    *key,
        "http://mirror.test", nullptr,      access.get(), "10.0.0.7"};
    environment.pages = pages.get();
    return api::Dispatch(request, environment);
  }
  Response Get(const std::string& target, const std::string& cookie_token = "") {
    return Page(http::verb::get, target, cookie_token);
  }

  std::shared_ptr<api::WebPages> pages = MakeWebPages();
};

TEST_CASE("every page carries the policy that lets it load only this server's files", "[pages]") {
  PagesFixture f;
  for (const char* page : {"/", "/-/datasets", "/-/models/up/open", "/-/lineage/up/open",
                           "/-/status", "/-/integrity", "/-/signin", "/-/models/up/none"}) {
    INFO(page);
    Response response = f.Get(page);
    CHECK(Header(response, "Content-Security-Policy") == kContentSecurityPolicy);
    CHECK(Header(response, "X-Content-Type-Options") == "nosniff");
    CHECK(Header(response, "Content-Type") == "text/html; charset=utf-8");
    // Nothing to load from another host (SVG's namespaces are names, not addresses).
    CHECK_THAT(response.body, !Catch::Contains("src=\"http") && !Catch::Contains("src=\"//") &&
                                  !Catch::Contains("href=\"//"));
  }
  Response script = f.Get("/-/assets/hubmirror.js");
  CHECK(api::Status(script) == 200);
  CHECK(Header(script, "Content-Type") == "text/javascript; charset=utf-8");
  CHECK(api::Status(f.Get("/-/assets/other.js")) == 404);
}

TEST_CASE("a private repo does not exist for those who may not read it", "[pages]") {
  PagesFixture f;
  CHECK(api::Status(f.Get("/-/models/team/secret")) == 404);
  CHECK(api::Status(f.Get("/-/models/team/secret", f.tokens["outsider"])) == 404);
  CHECK(api::Status(f.Get("/-/models/team/missing")) == 404);
  CHECK_THAT(f.Get("/").body, !Catch::Contains("team/secret"));
  CHECK_THAT(f.Get("/-/integrity").body, !Catch::Contains("team/secret"));
  Response member = f.Get("/-/models/team/secret", f.tokens["member"]);
  CHECK(api::Status(member) == 200);
  CHECK_THAT(f.Get("/", f.tokens["member"]).body, Catch::Contains("team/secret"));
}

TEST_CASE("a gated repo lists its files but links them only for those granted", "[pages]") {
  PagesFixture f;
  const std::string link = "href=\"/up/gated/resolve/";
  Response anonymous = f.Get("/-/models/up/gated");
  CHECK(api::Status(anonymous) == 200);
  CHECK_THAT(anonymous.body, Catch::Contains("model.safetensors"));
  CHECK_THAT(anonymous.body, !Catch::Contains(link));
  CHECK_THAT(anonymous.body, Catch::Contains("id=\"signin-to-request\""));
  Response outsider = f.Get("/-/models/up/gated", f.tokens["outsider"]);
  CHECK_THAT(outsider.body, !Catch::Contains(link));
  CHECK_THAT(outsider.body, Catch::Contains("id=\"request-access\""));
  Response granted = f.Get("/-/models/up/gated", f.tokens["granted"]);
  CHECK_THAT(granted.body, Catch::Contains(link));
  // The session cookie downloads what the page links, as a token would.
  api::Request download(http::verb::get, "/up/gated/resolve/main/model.safetensors", 11);
  download.set(http::field::cookie, "hubmirror_token=" + f.tokens["granted"]);
  api::DispatchEnvironment environment{
      f.registry.get(),     *f.local_store, 16u << 20,      *f.key,
      "http://mirror.test", nullptr,        f.access.get(), "10.0.0.7"};
  CHECK(api::Status(api::Dispatch(download, environment)) == 200);

  // Asking for access from the page: pending, and shown so.
  Response asked = f.Page(http::verb::post, "/-/access/models/up/gated", f.tokens["outsider"]);
  CHECK(api::Status(asked) == 303);
  CHECK(Header(asked, "Location") == "/-/models/up/gated");
  CHECK_THAT(f.Get("/-/models/up/gated", f.tokens["outsider"]).body,
             Catch::Contains("Your request is pending"));
}

TEST_CASE("sign-in sets a cookie scripts cannot read; forms from elsewhere are refused",
          "[pages]") {
  PagesFixture f;
  std::string token = f.tokens["boss"];
  Response signed_in =
      f.Page(http::verb::post, "/-/signin", "", "token=" + token + "&next=%2F-%2Fadmin");
  CHECK(api::Status(signed_in) == 303);
  CHECK(Header(signed_in, "Location") == "/-/admin");
  CHECK(Header(signed_in, "Set-Cookie") ==
        "hubmirror_token=" + token + "; Path=/; HttpOnly; SameSite=Strict; Max-Age=2592000");
  // Never to another host after signing in.
  Response away = f.Page(http::verb::post, "/-/signin", "", "token=" + token + "&next=//evil.test");
  CHECK(Header(away, "Location") == "/");
  Response bad = f.Page(http::verb::post, "/-/signin", "", "token=hf_notatoken");
  CHECK(api::Status(bad) == 401);
  CHECK(Header(bad, "Set-Cookie").empty());
  CHECK_THAT(bad.body, !Catch::Contains("hf_notatoken"));
  for (const char* origin : {"http://evil.test", ""}) {
    INFO("origin " << origin);
    CHECK(api::Status(f.Page(http::verb::post, "/-/signin", "", "token=" + token, origin)) == 403);
    CHECK(api::Status(f.Page(http::verb::post, "/-/access/models/up/gated", f.tokens["outsider"],
                             "", origin)) == 403);
  }
  Response out = f.Page(http::verb::post, "/-/signout", token);
  CHECK_THAT(Header(out, "Set-Cookie"), Catch::StartsWith("hubmirror_token=; Path=/;"));
}

TEST_CASE("the admin page is for admins, and shows token names, never secrets", "[pages]") {
  PagesFixture f;
  CHECK(api::Status(f.Get("/-/admin")) == 401);
  CHECK(api::Status(f.Get("/-/admin", f.tokens["outsider"])) == 403);
  Response admin = f.Get("/-/admin", f.tokens["boss"]);
  REQUIRE(api::Status(admin) == 200);
  CHECK_THAT(admin.body, Catch::Contains("owner-write") || Catch::Contains(">write<"));
  for (const auto& [name, secret] : f.tokens) {
    INFO(name);
    CHECK_THAT(admin.body, !Catch::Contains(secret));
  }
}

TEST_CASE("a revoked token's cookie makes the page anonymous again, and says so", "[pages]") {
  PagesFixture f;
  REQUIRE(f.registry->RevokeToken("member", "read").ok());
  Response page = f.Get("/-/models/team/secret", f.tokens["member"]);
  CHECK(api::Status(page) == 404);
  CHECK_THAT(page.body, Catch::Contains("id=\"session-expired\""));
  // The cookie is dropped, and the refusal counts as a bad token would.
  CHECK_THAT(Header(page, "Set-Cookie"), Catch::StartsWith("hubmirror_token=; Path=/;"));
  auto audit = f.registry->LatestAudit(1);
  REQUIRE(audit.ok());
  REQUIRE(audit->size() == 1);
  CHECK(audit->front().action == "auth.invalid_session");
}

TEST_CASE("a ref name never reaches the download commands as shell syntax", "[pages]") {
  PagesFixture f;
  auto repo = f.registry->FindRepo(RepoType::kModel, "up/open");
  REQUIRE(repo.ok());
  auto head = f.registry->ResolveRevision(*repo, "main");
  REQUIRE(head.ok());
  std::string hostile = "x'$(id)'";
  REQUIRE(f.registry->CreateRef(RepoType::kModel, "up/open", {RefKind::kBranch, hostile}, head->id)
              .ok());
  Response page = f.Get("/-/models/up/open?rev=x%27%24%28id%29%27");
  REQUIRE(api::Status(page) == 200);
  size_t snippets = page.body.find("id=\"snippet-python\"");
  REQUIRE(snippets != std::string::npos);
  std::string commands =
      page.body.substr(snippets, page.body.find("</section>", snippets) - snippets);
  CHECK_THAT(commands, Catch::Contains("revision=&quot;" + head->id + "&quot;"));
  CHECK_THAT(commands, Catch::Contains("/resolve/" + head->id + "/"));
  CHECK_THAT(commands, !Catch::Contains("$(id)"));
  CHECK_THAT(f.Get("/-/models/up/open?rev=main").body,
             Catch::Contains("revision=&quot;main&quot;"));
}

TEST_CASE("page numbers and depths from the address are read strictly", "[pages]") {
  PagesFixture f;
  for (const char* depth : {"0", "11", "-1", "2x", "99999999999999999999"}) {
    INFO("depth " << depth);
    CHECK(api::Status(f.Get(std::string("/-/lineage/up/open?depth=") + depth)) == 400);
  }
  CHECK(api::Status(f.Get("/-/lineage/up/open?depth=10")) == 200);
  // A page number that is no number is the first page, not an error.
  for (const char* page : {"abc", "0", "-3", "99999999999999999999", "7"}) {
    INFO("page " << page);
    Response list = f.Get(std::string("/?page=") + page);
    CHECK(api::Status(list) == 200);
    CHECK_THAT(list.body, Catch::Contains("up/open"));
    CHECK(api::Status(f.Get(std::string("/-/models/up/open?history=") + page)) == 200);
  }
}

TEST_CASE("a Hub-style repo address leads to the repo's page", "[pages]") {
  PagesFixture f;
  Response response = f.Get("/up/open");
  CHECK(api::Status(response) == 303);
  CHECK(Header(response, "Location") == "/-/models/up/open");
}

}  // namespace
}  // namespace hubmirror::web
