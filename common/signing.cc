#include "common/signing.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <optional>
#include <vector>

#include "common/base64.h"
#include "common/digest.h"
#include "common/files.h"

namespace hubmirror {
namespace {

std::string Base64(const unsigned char* data, size_t size) {
  std::string out(4 * ((size + 2) / 3) + 1, '\0');
  int written =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(size));
  out.resize(static_cast<size_t>(written));
  return out;
}

std::optional<std::vector<unsigned char>> FromBase64(std::string_view text) {
  if (text.empty()) return std::nullopt;
  std::optional<std::string> decoded = DecodeBase64(text);
  if (!decoded) return std::nullopt;
  return std::vector<unsigned char>(decoded->begin(), decoded->end());
}

// The key in PEM: its public half (SubjectPublicKeyInfo) or, unencrypted, the private key.
// Empty when OpenSSL cannot encode it.
std::string Pem(EVP_PKEY* key, bool private_key) {
  BIO* bio = BIO_new(BIO_s_mem());
  bool encoded =
      bio != nullptr &&
      (private_key ? PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr)
                   : PEM_write_bio_PUBKEY(bio, key)) == 1;
  char* data = nullptr;
  long size = encoded ? BIO_get_mem_data(bio, &data) : 0;
  std::string pem(data, static_cast<size_t>(size));
  BIO_free(bio);
  return pem;
}

}  // namespace

SigningKey::SigningKey(EVP_PKEY* key, bool has_private) : key_(key), has_private_(has_private) {
  unsigned char raw[32];
  size_t size = sizeof(raw);
  EVP_PKEY_get_raw_public_key(key_, raw, &size);
  key_id_ =
      Sha256Hex(std::string_view(reinterpret_cast<const char*>(raw), size)).substr(0, kKeyIdDigits);
}

SigningKey::~SigningKey() { EVP_PKEY_free(key_); }

namespace {

Result<EVP_PKEY*> ReadPrivateKey(const std::filesystem::path& path, FILE* file) {
  EVP_PKEY* key = PEM_read_PrivateKey(file, nullptr, nullptr, nullptr);
  std::fclose(file);
  if (key == nullptr || EVP_PKEY_get_id(key) != EVP_PKEY_ED25519) {
    EVP_PKEY_free(key);
    return Status(StatusCode::kCorrupt, path.string() + " is not an Ed25519 private key");
  }
  return key;
}

}  // namespace

Result<std::shared_ptr<const SigningKey>> SigningKey::LoadOrCreate(
    const std::filesystem::path& path) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (FILE* file = std::fopen(path.c_str(), "r")) {
      auto key = ReadPrivateKey(path, file);
      if (!key.ok()) return key.status();
      return std::shared_ptr<const SigningKey>(new SigningKey(*key, true));
    }
    // Only a key that does not exist is created: any other failure would replace the
    // instance's identity.
    if (errno != ENOENT) return ErrnoStatus("cannot read the signing key " + path.string(), errno);
    EVP_PKEY* key = nullptr;
    EVP_PKEY_CTX* context = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr);
    bool generated = context != nullptr && EVP_PKEY_keygen_init(context) == 1 &&
                     EVP_PKEY_keygen(context, &key) == 1;
    EVP_PKEY_CTX_free(context);
    if (!generated) return Internal("cannot generate an Ed25519 key");
    std::shared_ptr<const SigningKey> created(new SigningKey(key, true));
    // Written under a name of this process's own, readable by the owner only, then linked into
    // place: a crash never leaves a truncated key, and of two processes creating it at once one
    // wins and the other reads the winner's key.
    AtomicWriteOptions options;
    options.mode = 0600;
    options.temp_suffix = ".tmp." + std::to_string(::getpid());
    options.replace = false;
    std::string pem = Pem(key, true);
    if (pem.empty()) return Internal("cannot encode the new signing key");
    Status written = WriteFileAtomically(path, pem, options);
    OPENSSL_cleanse(pem.data(), pem.size());
    if (written.ok()) return created;
    if (written.code() != StatusCode::kAlreadyExists) {
      return Status(written.code(), "cannot write the signing key: " + written.message());
    }
  }
  return IoError("cannot create or read the signing key " + path.string());
}

Result<std::shared_ptr<const SigningKey>> SigningKey::FromPublicPem(std::string_view pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* key = bio != nullptr ? PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr) : nullptr;
  BIO_free(bio);
  if (key == nullptr || EVP_PKEY_get_id(key) != EVP_PKEY_ED25519) {
    EVP_PKEY_free(key);
    return InvalidArgument("not an Ed25519 public key in PEM");
  }
  return std::shared_ptr<const SigningKey>(new SigningKey(key, false));
}

std::string SigningKey::PublicPem() const { return Pem(key_, false); }

Result<std::string> SigningKey::Sign(std::string_view message) const {
  if (!has_private_) return Status(StatusCode::kFailedPrecondition, "a public key cannot sign");
  EVP_MD_CTX* context = EVP_MD_CTX_new();
  unsigned char signature[64];
  size_t size = sizeof(signature);
  bool signed_ok =
      context != nullptr && EVP_DigestSignInit(context, nullptr, nullptr, nullptr, key_) == 1 &&
      EVP_DigestSign(context, signature, &size,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) == 1;
  EVP_MD_CTX_free(context);
  if (!signed_ok) return Internal("Ed25519 signing failed");
  return Base64(signature, size);
}

bool SigningKey::Verify(std::string_view message, std::string_view signature_base64) const {
  auto signature = FromBase64(signature_base64);
  if (!signature) return false;
  EVP_MD_CTX* context = EVP_MD_CTX_new();
  bool verified =
      context != nullptr && EVP_DigestVerifyInit(context, nullptr, nullptr, nullptr, key_) == 1 &&
      EVP_DigestVerify(context, signature->data(), signature->size(),
                       reinterpret_cast<const unsigned char*>(message.data()), message.size()) == 1;
  EVP_MD_CTX_free(context);
  return verified;
}

}  // namespace hubmirror
