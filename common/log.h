#pragma once

#include <string_view>

namespace hubmirror {

enum class LogLevel { kInfo, kWarning, kError };

enum class LogFormat { kText, kJson };

// Writes one line to stderr: "TIME LEVEL MESSAGE", or with kJson one object per line
// {"level", "message", "time"} (invalid UTF-8 replaced). Thread-safe: lines from several threads
// never interleave. Callers must never pass tokens or other secrets.
void Log(LogLevel level, std::string_view message);
// The format of every later line (kText until set); set once, at start-up.
void SetLogFormat(LogFormat format);

}  // namespace hubmirror
