#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

namespace hubmirror::api {

// Small blobs' bytes, kept after they were read from the store and hashed to their SHA-256, for
// as long as the store's copy keeps the fingerprint it had when read (BlobStore::Fingerprint):
// a download of a small file then costs one stat instead of open, read, hash and close, and a
// copy damaged by a write is read (and refused) again. At most kBudgetBytes; when full, it is
// emptied. One per server thread; not thread-safe.
class VerifiedBlobCache {
 public:
  static constexpr uint64_t kMaxBlobBytes = 64 * 1024;
  static constexpr uint64_t kBudgetBytes = 32u << 20;

  // The verified bytes of `sha256` when they were read from the version `fingerprint` names,
  // or nullptr.
  const std::string* Find(const std::string& sha256, const std::string& fingerprint) const;
  // Keeps bytes that were just verified, read from the version `fingerprint` names (nothing is
  // kept for an empty fingerprint, or bytes over kMaxBlobBytes).
  void Insert(const std::string& sha256, const std::string& fingerprint, std::string bytes);

 private:
  struct Blob {
    std::string fingerprint;
    std::string bytes;
  };
  std::unordered_map<std::string, Blob> blobs_;
  uint64_t bytes_ = 0;
};

}  // namespace hubmirror::api
