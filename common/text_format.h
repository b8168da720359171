#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace hubmirror {

// Text for people and for markup. Pure functions; thread-safe.

// Text made safe for XML and HTML element content and quoted attribute values: & < > " ' become
// entities.
std::string EscapeMarkup(std::string_view text);

// A size in binary units: "512 B", "6.0 KiB", "2.1 GiB".
std::string FormatBytes(uint64_t bytes);

}  // namespace hubmirror
