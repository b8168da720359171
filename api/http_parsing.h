#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "common/url.h"

namespace hubmirror::api {

// Parsers for the parts of a request a client controls. Pure functions, fuzzed and table-tested.

// Decodes %XX escapes (and nothing else: '+' stays '+', as in paths). kInvalidArgument for a
// truncated or non-hex escape, and for a decoded NUL or control character.
Result<std::string> PercentDecode(std::string_view text);

// Query parameters in order, '+' decoded to space as HTML forms do. Keys keep their spelling
// ("expand[]" stays distinct from "expand").
using QueryParams = std::vector<std::pair<std::string, std::string>>;
Result<QueryParams> ParseQuery(std::string_view query);
// All values of `key` (and of `key[]`, the PHP-style spelling many clients use).
std::vector<std::string> QueryValues(const QueryParams& params, std::string_view key);
std::optional<std::string> QueryValue(const QueryParams& params, std::string_view key);
// true|True|1 / false|False|0, case-insensitive (hub-protocol §1.3). nullopt otherwise.
std::optional<bool> ParseBool(std::string_view text);

// A single byte range resolved against a size; `last` is inclusive.
struct ByteRange {
  uint64_t first = 0;
  uint64_t last = 0;
};
enum class RangeOutcome {
  kFullBody,       // no Range header, or a zero-length file
  kPartial,        // serve `range` with 206
  kUnsatisfiable,  // 416 with Content-Range: bytes */size
  kMalformed,      // 400
};
// Parses `bytes=a-b`, `bytes=a-` and `bytes=-n`, clamping the end to size-1 (RFC 9110).
// Several ranges, other units and garbage are kMalformed.
RangeOutcome ParseRange(std::string_view header, uint64_t size, ByteRange* range);

// Whether an If-None-Match header matches a strong quoted entity tag (weak comparison, `*`,
// comma-separated lists).
bool IfNoneMatchMatches(std::string_view header, std::string_view quoted_etag);

}  // namespace hubmirror::api
