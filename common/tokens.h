#pragma once

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
// What the registry stores: the SHA-256 of the secret, lowercase hex.
std::string TokenSecretHash(std::string_view secret);

}  // namespace hubmirror
