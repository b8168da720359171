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
// The seconds a duration means: a whole number and a unit, "30s", "15m", "24h" or "90d"; at least
// a second, at most 36500 days. nullopt for anything else.
std::optional<int64_t> ParseDuration(std::string_view text);
// ParseDuration, and zero for "0s", "0m", "0h" or "0d".
std::optional<int64_t> ParseDurationOrZero(std::string_view text);

}  // namespace hubmirror
