#include "common/log.h"

#include <cstdio>
#include <mutex>
#include <string>

#include "common/clock.h"

namespace hubmirror {

void Log(LogLevel level, std::string_view message) {
  static std::mutex mutex;
  const char* label = level == LogLevel::kInfo      ? "info"
                      : level == LogLevel::kWarning ? "warn"
                                                    : "error";
  std::string line =
      FormatIsoMillis(NowUnixMillis()) + " " + label + " " + std::string(message) + "\n";
  std::lock_guard lock(mutex);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace hubmirror
