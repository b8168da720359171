#pragma once

#include <openssl/evp.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hubmirror {

// Lowercase hex of raw bytes.
std::string ToHex(const unsigned char* data, size_t size);
// True when `text` is exactly `length` lowercase hex digits.
bool IsLowerHex(std::string_view text, size_t length);
inline bool IsSha256Hex(std::string_view text) { return IsLowerHex(text, 64); }
inline bool IsSha1Hex(std::string_view text) { return IsLowerHex(text, 40); }

// Incremental hash over OpenSSL EVP (SHA-256 or SHA-1). One instance per stream; not thread-safe.
class Hasher {
 public:
  enum class Algorithm { kSha256, kSha1 };
  explicit Hasher(Algorithm algorithm);
  ~Hasher();
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;

  void Update(const void* data, size_t size);
  void Update(std::string_view data) { Update(data.data(), data.size()); }
  // Returns the lowercase hex digest; the hasher must not be updated afterwards.
  std::string FinishHex();

 private:
  EVP_MD_CTX* ctx_;
};

// Hashes a file's bytes once for both identities the Hub uses: the SHA-256 of the content and
// the git blob SHA-1 (`sha1("blob <size>\0" + content)`), which needs the size up front. The
// SHA-1 can be skipped (its digest is then empty). Not thread-safe.
class ContentHasher {
 public:
  explicit ContentHasher(uint64_t declared_size, bool with_git_sha1 = true);
  void Update(const void* data, size_t size);
  struct Digests {
    std::string sha256;
    std::string git_sha1;
  };
  Digests Finish();

 private:
  Hasher sha256_;
  std::optional<Hasher> git_sha1_;
};

std::string Sha256Hex(std::string_view data);
std::string Sha1Hex(std::string_view data);
// git's object id: sha1("<type> <size>\0" + payload), type being "blob", "tree" or "commit".
std::string GitObjectId(std::string_view type, std::string_view payload);

// The Git LFS pointer file the Hub stores in git for an LFS file (hub-protocol §6).
std::string LfsPointer(std::string_view sha256_hex, uint64_t size);

}  // namespace hubmirror
