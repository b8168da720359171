#pragma once

#include "api/handler_support.h"

namespace hubmirror::api {

// The web UI: the HTML pages at `/` and `/-/...` (Endpoint::kPage, the page named by
// `route.item`). The API owns this interface so that it never depends on how pages are drawn;
// web/ implements it and `serve` wires it in. The dispatcher has authenticated the caller (a
// page also accepts the session cookie, see SessionCookieToken) and opened a read snapshot
// before calling; the pages honour the same access rules as the API. Thread-safe: called from
// the server's I/O threads at once.
class WebPages {
 public:
  virtual ~WebPages() = default;
  // Answers a page request, any method: 405 for a method the page does not take.
  virtual Response Answer(const RequestContext& context) = 0;
};

}  // namespace hubmirror::api
