#pragma once

#include <string_view>

namespace hubmirror {

enum class LogLevel { kInfo, kWarning, kError };

// Writes one timestamped line to stderr. Thread-safe: lines from several threads never interleave.
// Callers must never pass tokens or other secrets.
void Log(LogLevel level, std::string_view message);

}  // namespace hubmirror
