#pragma once

#include <string>
#include <string_view>

namespace hubmirror {

// Percent-encodes everything but RFC 3986 unreserved characters (and '/' when keep_slash), as
// clients encode revisions (keep_slash false) and file paths (keep_slash true) in Hub URLs.
std::string PercentEncode(std::string_view text, bool keep_slash);

}  // namespace hubmirror
