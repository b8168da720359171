#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace hubmirror {

// Access token secrets, shaped like the Hub's ("hf_" and 34 letters and digits: the official
// JavaScript client refuses any other shape before sending a token). A secret is shown once and
// stored only as TokenSecretHash. Thread-safe.

// A new secret from the system's cryptographic random source. kInternal when it fails.
Result<std::string> NewTokenSecret();
// Whether `text` has the shape of a secret (checked before any lookup).
bool LooksLikeTokenSecret(std::string_view text);
// The token of an Authorization header value: "Bearer TOKEN", or "Basic base64(user:TOKEN)" (git
// sends the token as the password). nullopt when the value has neither shape. Client input:
// bounded and never trusted.
std::optional<std::string> TokenFromAuthorization(std::string_view header);
// What the registry stores: the SHA-256 of the secret, lowercase hex.
std::string TokenSecretHash(std::string_view secret);

}  // namespace hubmirror
