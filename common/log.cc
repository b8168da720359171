#include "common/log.h"

#include <atomic>
#include <cstdio>
#include <mutex>
#include <string>

#include "common/clock.h"
#include "common/json_text.h"

namespace hubmirror {
namespace {

std::atomic<LogFormat> format{LogFormat::kText};

}  // namespace

void SetLogFormat(LogFormat chosen) { format = chosen; }

void Log(LogLevel level, std::string_view message) {
  static std::mutex mutex;
  const char* label = level == LogLevel::kInfo      ? "info"
                      : level == LogLevel::kWarning ? "warn"
                                                    : "error";
  std::string time = FormatIsoMillis(NowUnixMillis());
  std::string line =
      format == LogFormat::kJson
          ? CompactJson({{"time", time}, {"level", label}, {"message", std::string(message)}}) +
                "\n"
          : time + " " + label + " " + std::string(message) + "\n";
  std::lock_guard lock(mutex);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace hubmirror
