#include "common/tokens.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "common/base64.h"
#include "common/digest.h"
#include "common/names.h"

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

std::optional<std::string> TokenFromAuthorization(std::string_view header) {
  size_t space = header.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  std::string_view scheme = header.substr(0, space);
  std::string_view credentials = header.substr(space + 1);
  while (!credentials.empty() && credentials.front() == ' ') credentials.remove_prefix(1);
  if (EqualsIgnoringCase(scheme, "bearer")) return std::string(credentials);
  if (!EqualsIgnoringCase(scheme, "basic") || credentials.empty() || credentials.size() > 1024 ||
      credentials.size() % 4 != 0) {
    return std::nullopt;
  }
  std::optional<std::string> decoded = DecodeBase64(credentials);
  if (!decoded) return std::nullopt;
  size_t colon = decoded->find(':');
  if (colon == std::string::npos) return std::nullopt;
  return decoded->substr(colon + 1);
}

std::string TokenSecretHash(std::string_view secret) { return Sha256Hex(secret); }

}  // namespace hubmirror
