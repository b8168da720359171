#include "web/pages.h"

#include <algorithm>

#include "api/access.h"
#include "web/assets.h"
#include "web/page_handlers.h"

namespace hubmirror::web {
namespace {

bool IsRead(const RequestContext& context) {
  http::verb method = context.request.method();
  return method == http::verb::get || method == http::verb::head;
}

// Whether a form was posted from a page of this server: its Origin names the host the request
// was sent to (as the browser addressed it: a proxy in front may rewrite Host and say so in
// X-Forwarded-Host). Browsers send Origin with every POST, so a form on another site that posts
// here (cross-site request forgery) is refused even before SameSite cookies are considered.
bool SameOrigin(const RequestContext& context) {
  auto origin = context.request.find(http::field::origin);
  if (origin == context.request.end()) return false;
  std::string_view value = origin->value();
  size_t scheme = value.find("://");
  if (scheme == std::string_view::npos) return false;
  std::string_view host = value.substr(scheme + 3);
  for (std::string_view field : {"Host", "X-Forwarded-Host"}) {
    auto named = context.request.find(field);
    if (named != context.request.end() && named->value() == host) return true;
  }
  return false;
}

Response AssetResponse(const RequestContext& context) {
  for (const Asset& asset : Assets()) {
    if (asset.name != context.route.path) continue;
    Response response;
    response.Set("Content-Type", asset.name.ends_with(".css") ? "text/css; charset=utf-8"
                                                              : "text/javascript; charset=utf-8");
    response.Set("X-Content-Type-Options", "nosniff");
    response.Set("Cache-Control", "public, max-age=300");
    response.body = std::string(asset.content);
    return response;
  }
  return ErrorPage(context, http::status::not_found, "no such asset");
}

class WebPagesImpl : public api::WebPages {
 public:
  Response Answer(const RequestContext& context) override {
    const std::string& page = context.route.item;
    if (page == "asset") {
      return IsRead(context) ? AssetResponse(context) : MethodNotAllowed(context, "GET, HEAD");
    }
    if (context.request.method() == http::verb::post && !SameOrigin(context)) {
      return ErrorPage(context, http::status::forbidden,
                       "this form was not sent from a page of this server");
    }
    Response response = Page(context);
    // A cookie whose token ended is dropped, so that the next page is plainly anonymous.
    if (context.caller.session_expired && page != "signout") {
      response.Set("Set-Cookie", SessionCookie(context, "", 0));
    }
    return response;
  }

 private:
  static Response Page(const RequestContext& context) {
    const std::string& page = context.route.item;
    if (page == "signin") return SignInPage(context);
    if (page == "signout") return SignOutPage(context);
    // A server that needs a token for every request shows only the sign-in page to others.
    if (context.caller.anonymous() && !context.access.policy().anonymous_read) {
      return SeeOther("/-/signin");
    }
    if (page == "hub-link") return SeeOther(RepoPageUrl(context.route.type, context.route.repo));
    if (page == "access") return AccessRequestPage(context);
    if (!IsRead(context)) return MethodNotAllowed(context, "GET, HEAD");
    if (page == "list") return ListPage(context);
    if (page == "repo") return RepoPage(context);
    if (page == "lineage") return LineagePage(context);
    if (page == "status") return StatusPage(context);
    if (page == "integrity") return IntegrityPage(context);
    if (page == "admin") return AdminPage(context);
    return ErrorPage(context, http::status::not_found, "no such page");
  }
};

}  // namespace

std::string PageParam(const RequestContext& context, std::string_view key) {
  return QueryValue(context.route.query, key).value_or("");
}

int64_t PageNumber(const RequestContext& context, std::string_view key) {
  auto asked = api::IntegerParam(context.route.query, key);
  if (!asked.ok() || !asked->has_value() || **asked < 1) return 1;
  return std::min(**asked, kMaxPageNumber);
}

Response RepoLookupFailed(const RequestContext& context, const Status& status) {
  if (status.code() == StatusCode::kRepoNotFound) {
    return ErrorPage(context, http::status::not_found,
                     "no repository " + context.route.repo + " here");
  }
  return ErrorPage(context, http::status::internal_server_error, status.message());
}

Response MethodNotAllowed(const RequestContext& context, std::string_view allowed) {
  Response response = ErrorPage(
      context, http::status::method_not_allowed,
      "this page does not take " + std::string(context.request.method_string()) + " requests");
  response.Set("Allow", std::string(allowed));
  return response;
}

std::shared_ptr<api::WebPages> MakeWebPages() { return std::make_shared<WebPagesImpl>(); }

}  // namespace hubmirror::web
