#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "api/handler_support.h"

namespace hubmirror::api {

// The status line and header block of a response, as sent on the wire: the CORS headers every
// response carries, the handler's headers, Content-Length when given, and Connection when the
// version's default does not say what `keep_alive` asks for. Control characters in a header
// value (a message quoting a client's input, say) become spaces, so no value can end a header
// or start another. Pure function; thread-safe.
std::string SerializeResponseHead(const Response& response, unsigned version, bool keep_alive,
                                  std::optional<uint64_t> content_length);

}  // namespace hubmirror::api
