#pragma once

// What every page of the web UI is made of: escaping, the frame (head, navigation, footer), the
// response with its security headers, and the formats of sizes, times and addresses. Pure
// functions; thread-safe.

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include "api/access.h"
#include "api/handler_support.h"
#include "common/names.h"
#include "common/text_format.h"

namespace hubmirror::web {

using api::ParseQuery;
using api::QueryValue;
using api::RequestContext;
using api::Response;
namespace http = boost::beast::http;

// Text made safe for HTML element content and quoted attribute values: & < > " ' escaped.
inline std::string Escape(std::string_view text) { return EscapeMarkup(text); }
// A query parameter's value, percent-encoded.
std::string QueryValueText(std::string_view text);

// "2026-12-02 16:32 UTC", or "never" for 0.
std::string FormatTime(int64_t unix_millis);
// "3 s", "5 min", "2 h", "4 d".
std::string FormatAge(int64_t seconds);

// The start of a table that scrolls sideways on narrow screens, with its id ("" for none) and
// column headings; kTableEnd closes it.
std::string TableStart(std::string_view id, std::initializer_list<std::string_view> columns);
inline constexpr std::string_view kTableEnd = "</tbody></table></div>";

// Addresses of pages and files. Ids and paths are percent-encoded, slashes kept.
std::string RepoPageUrl(RepoType type, std::string_view id);
std::string LineagePageUrl(std::string_view id);
// The download of a file through the Hub-compatible routes (`/{id}/resolve/...`).
std::string FileUrl(RepoType type, std::string_view id, std::string_view revision,
                    std::string_view path);
// The first lines of a page: doctype, head with the stylesheet and script, the site's
// navigation (with `section` marked current) and who is signed in, then <main>.
std::string PageStart(const RequestContext& context, std::string_view title,
                      std::string_view section);
// Closes what PageStart opened.
std::string PageEnd();

// A page's response: HTML, never cached (it depends on who asks), with the Content-Security-
// Policy that lets it load nothing but this server's own stylesheet, script and images.
Response HtmlResponse(std::string html, http::status status = http::status::ok);
// A whole page saying what went wrong, with the status given.
Response ErrorPage(const RequestContext& context, http::status status, std::string_view message);
// 303 See Other to a page of this server (`location` starts with '/').
Response SeeOther(std::string_view location);

// The Content-Security-Policy of every page.
inline constexpr std::string_view kContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

}  // namespace hubmirror::web
