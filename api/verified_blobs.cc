#include "api/verified_blobs.h"

namespace hubmirror::api {

const std::string* VerifiedBlobCache::Find(const std::string& sha256,
                                           const std::string& fingerprint) const {
  auto found = blobs_.find(sha256);
  if (found == blobs_.end() || fingerprint.empty() || found->second.fingerprint != fingerprint) {
    return nullptr;
  }
  return &found->second.bytes;
}

void VerifiedBlobCache::Insert(const std::string& sha256, const std::string& fingerprint,
                               std::string bytes) {
  if (fingerprint.empty() || bytes.size() > kMaxBlobBytes) return;
  if (auto old = blobs_.find(sha256); old != blobs_.end()) {
    bytes_ -= old->second.bytes.size();
    blobs_.erase(old);
  }
  // Emptied rather than ordered by use: small files are few and cheap to read again.
  if (bytes_ + bytes.size() > kBudgetBytes) {
    blobs_.clear();
    bytes_ = 0;
  }
  bytes_ += bytes.size();
  blobs_[sha256] = Blob{fingerprint, std::move(bytes)};
}

}  // namespace hubmirror::api
