#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hubmirror {

// Milliseconds since the Unix epoch, from the system clock.
int64_t NowUnixMillis();
// ISO-8601 in UTC with milliseconds, as the Hub writes dates: "2024-02-19T11:06:12.000Z".
std::string FormatIsoMillis(int64_t unix_millis);
// Parses "YYYY-MM-DDTHH:MM:SS[.fff]Z" (UTC); nullopt for anything else.
std::optional<int64_t> ParseIsoMillis(std::string_view text);

}  // namespace hubmirror
