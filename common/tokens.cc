#include "common/tokens.h"

#include <openssl/rand.h>

#include "common/digest.h"

namespace hubmirror {
namespace {

constexpr std::string_view kPrefix = "hf_";
constexpr size_t kRandomCharacters = 34;
constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

bool IsAlphanumeric(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

}  // namespace

Result<std::string> NewTokenSecret() {
  std::string secret(kPrefix);
  while (secret.size() < kPrefix.size() + kRandomCharacters) {
    unsigned char bytes[64];
    if (RAND_bytes(bytes, sizeof bytes) != 1) return Internal("no random bytes for a token");
    for (unsigned char byte : bytes) {
      // Rejection sampling keeps every character equally likely (256 is not a multiple of 62).
      if (byte >= 248) continue;
      secret += kAlphabet[byte % kAlphabet.size()];
      if (secret.size() == kPrefix.size() + kRandomCharacters) break;
    }
  }
  return secret;
}

bool LooksLikeTokenSecret(std::string_view text) {
  if (!text.starts_with(kPrefix) || text.size() < kPrefix.size() + 20 || text.size() > 128) {
    return false;
  }
  for (char c : text.substr(kPrefix.size())) {
    if (!IsAlphanumeric(c)) return false;
  }
  return true;
}

std::string TokenSecretHash(std::string_view secret) { return Sha256Hex(secret); }

}  // namespace hubmirror
