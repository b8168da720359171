#pragma once

// The pages of the web UI, one function each (one file each, named after the page). Each is
// given a request whose caller is authenticated and whose registry reads share one snapshot,
// answers any method it does not take with 405, and shows only what the caller may see.

#include "web/html.h"

namespace hubmirror::web {

Response ListPage(const RequestContext& context);       // list_page.cc
Response RepoPage(const RequestContext& context);       // repo_page.cc
Response LineagePage(const RequestContext& context);    // lineage_page.cc
Response StatusPage(const RequestContext& context);     // status_page.cc
Response IntegrityPage(const RequestContext& context);  // integrity_page.cc
// account_pages.cc: sign-in and out, a gated repo's access request, the administration page.
Response SignInPage(const RequestContext& context);
Response SignOutPage(const RequestContext& context);
Response AccessRequestPage(const RequestContext& context);
Response AdminPage(const RequestContext& context);

// The Set-Cookie value of the session cookie holding `token` for `max_age_seconds` (0: the
// cookie is dropped): HttpOnly, SameSite=Strict, and Secure when the browser came over HTTPS.
std::string SessionCookie(const RequestContext& context, std::string_view token,
                          int64_t max_age_seconds);

// A query parameter of the page's address ("" when absent).
std::string PageParam(const RequestContext& context, std::string_view key);
// The page for a repo FindVisibleRepo did not give: 404 when there is none the caller may see,
// else 500 with the reason.
Response RepoLookupFailed(const RequestContext& context, const Status& status);
// A page number from the address (`key`, counted from 1): 1 when absent or not a positive
// integer, and at most kMaxPageNumber.
inline constexpr int64_t kMaxPageNumber = 1'000'000;
int64_t PageNumber(const RequestContext& context, std::string_view key);
// 405 with Allow, for a method a page does not take.
Response MethodNotAllowed(const RequestContext& context, std::string_view allowed);

}  // namespace hubmirror::web
