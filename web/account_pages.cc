// Who uses the UI: sign-in with an access token and sign-out (`/-/signin`, `/-/signout`), a
// gated repo's access request (`/-/access/{type}s/{id}`), and the administration page
// (`/-/admin`).
#include <algorithm>

#include "api/access.h"
#include "api/admin_actions.h"
#include "common/clock.h"
#include "common/tokens.h"
#include "web/page_handlers.h"

namespace hubmirror::web {
namespace {

// A session lasts at most this long, and never past its token's expiry.
constexpr int64_t kSessionSeconds = 30 * 86400;
constexpr size_t kAuditShown = 100;

// Where to go after signing in: a page of this server, never another host ("//host", "/\host",
// or "/\t/host", which browsers read as "//host" once they drop the tab).
std::string SafeNext(std::string_view next) {
  bool control =
      std::any_of(next.begin(), next.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; });
  if (next.empty() || next.front() != '/' || next.starts_with("//") || control ||
      next.find('\\') != std::string_view::npos) {
    return "/";
  }
  return std::string(next);
}

Response SignInForm(const RequestContext& context, std::string_view next, std::string_view error,
                    http::status status) {
  std::string html = PageStart(context, "Sign in", "signin");
  html += "<h1>Sign in</h1>";
  if (!error.empty()) html += "<p class=\"error\" role=\"alert\">" + Escape(error) + "</p>";
  if (!context.access.policy().anonymous_read) {
    html += "<p>This server needs an access token for every page.</p>";
  }
  html +=
      "<form id=\"signin-form\" method=\"post\" action=\"/-/signin\"><label for=\"token\">Access "
      "token</label><input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"off\" "
      "required><input type=\"hidden\" name=\"next\" value=\"" +
      Escape(SafeNext(next)) +
      "\"><button type=\"submit\">Sign in</button></form><p class=\"meta\">Use a token this "
      "server's operator created for you (<code>hubmirror token create</code>). The browser keeps "
      "it in a cookie no script can read, until you sign out.</p>" +
      PageEnd();
  return HtmlResponse(std::move(html), status);
}

Response SignInWithToken(const RequestContext& context) {
  auto form = ParseQuery(context.request.body());
  if (!form.ok()) {
    return SignInForm(context, "/", "the form could not be read", http::status::bad_request);
  }
  std::string token = QueryValue(*form, "token").value_or("");
  std::string next = QueryValue(*form, "next").value_or("/");
  const std::string& address = context.caller.address;
  if (int64_t wait = context.access.bad_tokens().SecondsBlocked(address)) {
    Response response = SignInForm(context, next, "too many invalid tokens, retry later",
                                   http::status::too_many_requests);
    response.Set("Retry-After", std::to_string(wait));
    return response;
  }
  int64_t now_ms = NowUnixMillis();
  Result<std::optional<registry::Principal>> principal = std::optional<registry::Principal>();
  if (LooksLikeTokenSecret(token)) {
    principal = context.registry.FindPrincipal(TokenSecretHash(token), now_ms);
    if (!principal.ok()) {
      return ErrorPage(context, http::status::internal_server_error, principal.status().message());
    }
  }
  if (!principal->has_value()) {
    context.access.bad_tokens().Count(address);
    context.access.AuditRefusal(
        {0, 0, "anonymous", "auth.invalid_token", "/-/signin", "refused", address, ""});
    return SignInForm(context, next, "This token is not valid here (unknown, revoked or expired).",
                      http::status::unauthorized);
  }
  const registry::Principal& who = **principal;
  int64_t max_age = kSessionSeconds;
  if (who.token.expires_at_ms != 0) {
    max_age = std::min(max_age, (who.token.expires_at_ms - now_ms) / 1000);
  }
  context.access.Audit(
      api::AuditRecord({"auth.signin", "user " + who.user.name, {}}, who.user.name, address, "ok"));
  Response response = SeeOther(SafeNext(next));
  response.Set("Set-Cookie", SessionCookie(context, token, std::max<int64_t>(max_age, 1)));
  return response;
}

std::string UsersSection(const std::vector<registry::User>& users,
                         const std::vector<registry::Org>& orgs) {
  std::string html =
      "<section id=\"users\"><h2>Users</h2>" + TableStart("", {"Name", "Role", "Created"});
  for (const auto& user : users) {
    html += "<tr><td>" + Escape(user.name) + "</td><td>" +
            (user.is_admin   ? "admin"
             : user.is_robot ? "robot"
                             : "user") +
            "</td><td>" + FormatTime(user.created_at_ms) + "</td></tr>";
  }
  html += std::string(kTableEnd) + "<h3>Organizations</h3><ul id=\"orgs\">";
  for (const auto& org : orgs) {
    html += "<li>" + Escape(org.name) + ": ";
    for (size_t i = 0; i < org.members.size(); ++i) {
      html += (i ? ", " : "") + Escape(org.members[i].user) + " (" +
              std::string(registry::OrgRoleName(org.members[i].role)) + ")";
    }
    html += "</li>";
  }
  return html + "</ul></section>";
}

std::string TokensSection(const std::vector<registry::TokenInfo>& tokens) {
  std::string html =
      "<section id=\"tokens\"><h2>Tokens</h2><p class=\"meta\">Secrets are never stored, only "
      "their hashes.</p>" +
      TableStart("", {"User", "Name", "Scope", "Created", "Expires", "Revoked"});
  for (const auto& token : tokens) {
    html += "<tr><td>" + Escape(token.user) + "</td><td class=\"token-name\">" +
            Escape(token.name) + "</td><td>" + std::string(registry::TokenScopeName(token.scope)) +
            "</td><td>" + FormatTime(token.created_at_ms) + "</td><td>" +
            (token.expires_at_ms ? FormatTime(token.expires_at_ms) : "never") + "</td><td>" +
            (token.revoked_at_ms ? FormatTime(token.revoked_at_ms) : "") + "</td></tr>";
  }
  return html + std::string(kTableEnd) + "</section>";
}

Result<std::string> GrantsSection(const RequestContext& context) {
  std::string html = "<section id=\"grants\"><h2>Access to gated and private repos</h2>" +
                     TableStart("", {"Repo", "User", "State", "Asked", "Decided by"});
  for (RepoType type : {RepoType::kModel, RepoType::kDataset}) {
    registry::RepoQuery query;
    query.type = type;
    query.limit = 1'000'000;
    auto repos = context.registry.ListRepos(query);
    if (!repos.ok()) return repos.status();
    for (const auto& repo : *repos) {
      if (repo.gated == "false" && !repo.is_private) continue;
      auto requests = context.registry.ListAccessRequests(type, repo.name, std::nullopt);
      if (!requests.ok()) return requests.status();
      for (const auto& request : *requests) {
        html += "<tr><td><a href=\"" + RepoPageUrl(type, repo.name) + "\">" + Escape(repo.name) +
                "</a></td><td>" + Escape(request.user) + "</td><td>" +
                std::string(registry::AccessStatusName(request.status)) + "</td><td>" +
                FormatTime(request.requested_at_ms) + "</td><td>" + Escape(request.decided_by) +
                "</td></tr>";
      }
    }
  }
  return html + std::string(kTableEnd) + "</section>";
}

Result<std::string> AuditSection(const RequestContext& context) {
  auto events = context.registry.LatestAudit(kAuditShown);
  if (!events.ok()) return events.status();
  std::string html = "<section id=\"audit\"><h2>Audit log</h2><p class=\"meta\">The latest " +
                     std::to_string(kAuditShown) +
                     " events, newest first (all of them: <code>hubmirror audit</code>).</p>" +
                     TableStart("", {"When", "Who", "Action", "Target", "Outcome", "From"});
  for (const auto& event : *events) {
    html += "<tr><td>" + FormatTime(event.at_ms) + "</td><td>" + Escape(event.actor) + "</td><td>" +
            Escape(event.action) + "</td><td>" + Escape(event.target) + "</td><td>" +
            Escape(event.outcome) + "</td><td>" + Escape(event.address) + "</td></tr>";
  }
  return html + std::string(kTableEnd) + "</section>";
}

}  // namespace

std::string SessionCookie(const RequestContext& context, std::string_view token,
                          int64_t max_age_seconds) {
  // The origin says https when the browser reached us so (a proxy in front says so).
  return std::string(api::kSessionCookie) + "=" + std::string(token) +
         "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" + std::to_string(max_age_seconds) +
         (context.origin.starts_with("https:") ? "; Secure" : "");
}

Response SignInPage(const RequestContext& context) {
  if (context.request.method() == http::verb::post) return SignInWithToken(context);
  if (context.request.method() != http::verb::get && context.request.method() != http::verb::head) {
    return MethodNotAllowed(context, "GET, HEAD, POST");
  }
  return SignInForm(context, PageParam(context, "next"), "", http::status::ok);
}

Response SignOutPage(const RequestContext& context) {
  if (context.request.method() != http::verb::post) return MethodNotAllowed(context, "POST");
  Response response = SeeOther("/");
  response.Set("Set-Cookie", SessionCookie(context, "", 0));
  return response;
}

Response AccessRequestPage(const RequestContext& context) {
  if (context.request.method() != http::verb::post) return MethodNotAllowed(context, "POST");
  std::string page = RepoPageUrl(context.route.type, context.route.repo);
  if (context.caller.anonymous()) return SeeOther("/-/signin?next=" + QueryValueText(page));
  api::RepoRight unused = api::RepoRight::kNone;
  auto repo = api::FindVisibleRepo(context, context.route.type, context.route.repo, &unused);
  if (!repo.ok()) return RepoLookupFailed(context, repo.status());
  auto request = api::AskForAccess(context, *repo, context.request.body());
  if (!request.ok()) {
    bool bad = request.status().code() == StatusCode::kInvalidArgument;
    return ErrorPage(context, bad ? http::status::bad_request : http::status::service_unavailable,
                     request.status().message());
  }
  return SeeOther(page);
}

Response AdminPage(const RequestContext& context) {
  if (context.caller.anonymous()) {
    std::string html = PageStart(context, "Administration", "admin");
    html +=
        "<h1>Administration</h1><p>Only this server's administrators see this page. <a "
        "id=\"signin-to-admin\" href=\"/-/signin?next=/-/admin\">Sign in</a>.</p>" +
        PageEnd();
    Response response = HtmlResponse(std::move(html), http::status::unauthorized);
    response.Set("WWW-Authenticate", "Bearer realm=\"Authentication required\"");
    return response;
  }
  if (!context.caller.is_admin()) {
    return ErrorPage(context, http::status::forbidden,
                     "only this server's administrators see this page");
  }
  auto users = context.registry.ListUsers();
  auto orgs = context.registry.ListOrgs();
  auto tokens = context.registry.ListTokens("");
  auto grants = GrantsSection(context);
  auto audit = AuditSection(context);
  for (const Status* status :
       {&users.status(), &orgs.status(), &tokens.status(), &grants.status(), &audit.status()}) {
    if (!status->ok()) {
      return ErrorPage(context, http::status::internal_server_error, status->message());
    }
  }
  std::string html = PageStart(context, "Administration", "admin");
  html +=
      "<h1>Administration</h1><p class=\"meta\">Changes are made with the CLI or "
      "<code>/api/admin/</code>; this page shows the state.</p>" +
      UsersSection(*users, *orgs) + TokensSection(*tokens) + *grants + *audit + PageEnd();
  return HtmlResponse(std::move(html));
}

}  // namespace hubmirror::web
