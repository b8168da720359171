#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace hubmirror {

// Standard base64 (RFC 4648, with '=' padding), as the Hub's clients send commit content and
// HTTP Basic credentials carry tokens. nullopt for text that is not valid base64 of that form
// (wrong length, characters outside the alphabet); "" decodes to "".
std::optional<std::string> DecodeBase64(std::string_view text);

}  // namespace hubmirror
