#pragma once

#include <openssl/types.h>

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

namespace hubmirror {

// An Ed25519 key (OpenSSL): this instance's signing key, or a public key to check signatures
// with. Immutable once loaded; safe to use from several threads.
class SigningKey {
 public:
  // Loads the private key at `path`, creating it first (readable by its owner only) when absent.
  static Result<std::shared_ptr<const SigningKey>> LoadOrCreate(const std::filesystem::path& path);
  // A public key in PEM (SubjectPublicKeyInfo); kInvalidArgument when it is not an Ed25519 one.
  static Result<std::shared_ptr<const SigningKey>> FromPublicPem(std::string_view pem);
  ~SigningKey();
  SigningKey(const SigningKey&) = delete;
  SigningKey& operator=(const SigningKey&) = delete;

  std::string PublicPem() const;
  // The first kKeyIdDigits hex digits of the SHA-256 of the raw public key: names the key in
  // manifests and bundles.
  static constexpr size_t kKeyIdDigits = 16;
  const std::string& key_id() const { return key_id_; }
  // Base64 of the signature of `message`; kFailedPrecondition for a public-only key.
  Result<std::string> Sign(std::string_view message) const;
  // True when `signature_base64` is this key's signature of `message`.
  bool Verify(std::string_view message, std::string_view signature_base64) const;

 private:
  SigningKey(EVP_PKEY* key, bool has_private);
  EVP_PKEY* key_;
  bool has_private_;
  std::string key_id_;
};

}  // namespace hubmirror
