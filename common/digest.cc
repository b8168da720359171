#include "common/digest.h"

#include <stdexcept>

namespace hubmirror {

std::string ToHex(const unsigned char* data, size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(size * 2, '0');
  for (size_t i = 0; i < size; ++i) {
    out[2 * i] = kDigits[data[i] >> 4];
    out[2 * i + 1] = kDigits[data[i] & 0xf];
  }
  return out;
}

bool IsLowerHex(std::string_view text, size_t length) {
  if (text.size() != length) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Hasher::Hasher(Algorithm algorithm) : ctx_(EVP_MD_CTX_new()) {
  // Fetched once: the legacy EVP_sha256() makes every init look the algorithm up again, which
  // costs more than hashing a small file.
  static EVP_MD* const kSha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  static EVP_MD* const kSha1 = EVP_MD_fetch(nullptr, "SHA1", nullptr);
  // Allocation or init failure here means OpenSSL itself is unusable; there is no sane recovery.
  if (ctx_ == nullptr ||
      EVP_DigestInit_ex(ctx_, algorithm == Algorithm::kSha256 ? kSha256 : kSha1, nullptr) != 1) {
    throw std::runtime_error("OpenSSL digest initialisation failed");
  }
}

Hasher::~Hasher() { EVP_MD_CTX_free(ctx_); }

void Hasher::Update(const void* data, size_t size) { EVP_DigestUpdate(ctx_, data, size); }

std::string Hasher::FinishHex() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(ctx_, digest, &length);
  return ToHex(digest, length);
}

ContentHasher::ContentHasher(uint64_t declared_size, bool with_git_sha1)
    : sha256_(Hasher::Algorithm::kSha256) {
  if (!with_git_sha1) return;
  git_sha1_.emplace(Hasher::Algorithm::kSha1);
  std::string header = "blob " + std::to_string(declared_size);
  git_sha1_->Update(header.data(), header.size() + 1);  // includes the terminating NUL
}

void ContentHasher::Update(const void* data, size_t size) {
  sha256_.Update(data, size);
  if (git_sha1_) git_sha1_->Update(data, size);
}

ContentHasher::Digests ContentHasher::Finish() {
  return Digests{sha256_.FinishHex(), git_sha1_ ? git_sha1_->FinishHex() : ""};
}

std::string Sha256Hex(std::string_view data) {
  Hasher hasher(Hasher::Algorithm::kSha256);
  hasher.Update(data);
  return hasher.FinishHex();
}

std::string Sha1Hex(std::string_view data) {
  Hasher hasher(Hasher::Algorithm::kSha1);
  hasher.Update(data);
  return hasher.FinishHex();
}

std::string GitObjectId(std::string_view type, std::string_view payload) {
  Hasher hasher(Hasher::Algorithm::kSha1);
  std::string header = std::string(type) + " " + std::to_string(payload.size());
  hasher.Update(header.data(), header.size() + 1);
  hasher.Update(payload);
  return hasher.FinishHex();
}

std::string LfsPointer(std::string_view sha256_hex, uint64_t size) {
  return "version https://git-lfs.github.com/spec/v1\noid sha256:" + std::string(sha256_hex) +
         "\nsize " + std::to_string(size) + "\n";
}

}  // namespace hubmirror
