#include "common/clock.h"

#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace hubmirror {

int64_t NowUnixMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string FormatIsoMillis(int64_t unix_millis) {
  time_t seconds = static_cast<time_t>(unix_millis / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buffer[96];
  std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<int>(unix_millis % 1000));
  return buffer;
}

}  // namespace hubmirror

namespace hubmirror {

std::optional<int64_t> ParseIsoMillis(std::string_view text) {
  std::tm utc{};
  int millis = 0;
  int consumed = 0;
  std::string copy(text);
  if (std::sscanf(copy.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &utc.tm_year, &utc.tm_mon,
                  &utc.tm_mday, &utc.tm_hour, &utc.tm_min, &utc.tm_sec, &consumed) != 6) {
    return std::nullopt;
  }
  std::string_view rest = text.substr(static_cast<size_t>(consumed));
  if (!rest.empty() && rest.front() == '.') {
    size_t digits = 1;
    while (digits < rest.size() && rest[digits] >= '0' && rest[digits] <= '9') ++digits;
    std::string fraction(rest.substr(1, std::min<size_t>(digits - 1, 3)));
    while (fraction.size() < 3) fraction += '0';
    millis = std::atoi(fraction.c_str());
    rest.remove_prefix(digits);
  }
  if (rest != "Z") return std::nullopt;
  utc.tm_year -= 1900;
  utc.tm_mon -= 1;
  time_t seconds = timegm(&utc);
  if (seconds == static_cast<time_t>(-1)) return std::nullopt;
  return static_cast<int64_t>(seconds) * 1000 + millis;
}

std::optional<int64_t> ParseDuration(std::string_view text) {
  constexpr int64_t kMaxSeconds = int64_t{36500} * 86400;
  if (text.size() < 2) return std::nullopt;
  std::string_view digits = text.substr(0, text.size() - 1);
  int64_t scale = text.back() == 's'   ? 1
                  : text.back() == 'm' ? 60
                  : text.back() == 'h' ? 3600
                  : text.back() == 'd' ? 86400
                                       : 0;
  int64_t number = 0;
  // Digits only: from_chars stops at a '+', a space or a fraction, and a '-' gives less than 1.
  auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), number);
  if (scale == 0 || error != std::errc() || end != digits.data() + digits.size() || number < 1 ||
      number > kMaxSeconds / scale) {
    return std::nullopt;
  }
  return number * scale;
}

std::optional<int64_t> ParseDurationOrZero(std::string_view text) {
  bool zero = text.size() >= 2 && text.find_first_not_of('0') == text.size() - 1 &&
              std::string_view("smhd").find(text.back()) != std::string_view::npos;
  return zero ? std::optional<int64_t>(0) : ParseDuration(text);
}

}  // namespace hubmirror
