#include "api/upload_tickets.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <array>
#include <stdexcept>

#include "common/clock.h"
#include "common/digest.h"

namespace hubmirror::api {
namespace {

const std::array<unsigned char, 32>& Key() {
  static const std::array<unsigned char, 32> key = [] {
    std::array<unsigned char, 32> bytes{};
    if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
      throw std::runtime_error("no random bytes for the upload key");
    }
    return bytes;
  }();
  return key;
}

}  // namespace

std::string UploadSignature(const std::string& sha256, uint64_t size, const std::string& user,
                            int64_t expires) {
  std::string message =
      sha256 + "\n" + std::to_string(size) + "\n" + user + "\n" + std::to_string(expires);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  const auto& key = Key();
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &length);
  return ToHex(mac, length);
}

bool ValidUploadSignature(const std::string& sha256, uint64_t size, const std::string& user,
                          int64_t expires, const std::string& signature) {
  if (expires < NowUnixMillis() / 1000) return false;
  std::string expected = UploadSignature(sha256, size, user, expires);
  return signature.size() == expected.size() &&
         CRYPTO_memcmp(signature.data(), expected.data(), expected.size()) == 0;
}

}  // namespace hubmirror::api
