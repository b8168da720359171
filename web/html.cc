#include "web/html.h"

#include <cinttypes>
#include <cstdio>
#include <ctime>

#include "api/access.h"
#include "common/url.h"

namespace hubmirror::web {

std::string QueryValueText(std::string_view text) { return PercentEncode(text, false); }

std::string FormatTime(int64_t unix_millis) {
  if (unix_millis <= 0) return "never";
  std::time_t seconds = static_cast<std::time_t>(unix_millis / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M UTC", &utc);
  return text;
}

std::string FormatAge(int64_t seconds) {
  if (seconds < 0) seconds = 0;
  if (seconds < 120) return std::to_string(seconds) + " s";
  if (seconds < 2 * 3600) return std::to_string(seconds / 60) + " min";
  if (seconds < 2 * 86400) return std::to_string(seconds / 3600) + " h";
  return std::to_string(seconds / 86400) + " d";
}

std::string TableStart(std::string_view id, std::initializer_list<std::string_view> columns) {
  std::string html = "<div class=\"scroll\"><table";
  if (!id.empty()) html += " id=\"" + std::string(id) + "\"";
  html += "><thead><tr>";
  for (std::string_view column : columns)
    html += "<th scope=\"col\">" + std::string(column) + "</th>";
  return html + "</tr></thead><tbody>";
}

std::string RepoPageUrl(RepoType type, std::string_view id) {
  return (type == RepoType::kDataset ? "/-/datasets/" : "/-/models/") + PercentEncode(id, true);
}

std::string LineagePageUrl(std::string_view id) { return "/-/lineage/" + PercentEncode(id, true); }

std::string FileUrl(RepoType type, std::string_view id, std::string_view revision,
                    std::string_view path) {
  return (type == RepoType::kDataset ? "/datasets/" : "/") + PercentEncode(id, true) + "/resolve/" +
         PercentEncode(revision, false) + "/" + PercentEncode(path, true);
}

std::string PageStart(const RequestContext& context, std::string_view title,
                      std::string_view section) {
  std::string html =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
      // No icon to fetch: a browser would otherwise ask for /favicon.ico.
      "<link rel=\"icon\" href=\"data:,\">"
      "<title>" +
      Escape(title) +
      " · hubmirror</title>"
      "<link rel=\"stylesheet\" href=\"/-/assets/hubmirror.css\">"
      "<script src=\"/-/assets/hubmirror.js\" defer></script></head><body>"
      "<a class=\"skip\" href=\"#main\">Skip to content</a>"
      "<header><nav id=\"site-nav\" aria-label=\"Site\"><a class=\"brand\" "
      "href=\"/\">hubmirror</a>";
  auto link = [&](std::string_view href, std::string_view name, std::string_view key) {
    html += "<a href=\"" + std::string(href) + "\"";
    if (key == section) html += " aria-current=\"page\"";
    html += ">" + std::string(name) + "</a>";
  };
  link("/", "Models", "models");
  link("/-/datasets", "Datasets", "datasets");
  link("/-/status", "Status", "status");
  link("/-/integrity", "Integrity", "integrity");
  const api::Caller& caller = context.caller;
  if (caller.is_admin()) link("/-/admin", "Admin", "admin");
  html += "<span class=\"who\">";
  if (caller.anonymous()) {
    link("/-/signin", "Sign in", "signin");
  } else {
    html += "<span id=\"signed-in-as\">" + Escape(caller.name()) +
            "</span><form id=\"signout-form\" method=\"post\" action=\"/-/signout\">"
            "<button type=\"submit\">Sign out</button></form>";
  }
  html += "</span></nav></header><main id=\"main\">";
  if (caller.session_expired) {
    html +=
        "<p class=\"notice\" id=\"session-expired\">Your sign-in ended: its token was revoked or "
        "has expired. <a href=\"/-/signin\">Sign in again</a>.</p>";
  }
  return html;
}

std::string PageEnd() {
  return "</main><footer><p>hubmirror · <a href=\"/api/mirror/status\">status JSON</a> · "
         "<a href=\"/api/integrity/key\">signing key</a></p></footer></body></html>\n";
}

Response HtmlResponse(std::string html, http::status status) {
  Response response;
  response.status = status;
  response.Set("Content-Type", "text/html; charset=utf-8");
  response.Set("Content-Security-Policy", std::string(kContentSecurityPolicy));
  response.Set("X-Content-Type-Options", "nosniff");
  response.Set("Referrer-Policy", "same-origin");
  response.Set("Cache-Control", "no-store");
  response.body = std::move(html);
  return response;
}

Response ErrorPage(const RequestContext& context, http::status status, std::string_view message) {
  std::string html = PageStart(context, "Error", "");
  html += "<h1>" + std::to_string(static_cast<unsigned>(status)) + " " +
          Escape(http::obsolete_reason(status)) + "</h1><p class=\"error\">" + Escape(message) +
          "</p><p><a href=\"/\">Back to the models</a></p>";
  html += PageEnd();
  return HtmlResponse(std::move(html), status);
}

Response SeeOther(std::string_view location) {
  Response response;
  response.status = http::status::see_other;
  response.Set("Location", std::string(location));
  response.Set("Cache-Control", "no-store");
  return response;
}

}  // namespace hubmirror::web
