#pragma once

#include <atomic>
#include <mutex>
#include <optional>
#include <string>

#include "storage/blob_store.h"

namespace hubmirror::testing {

// A BlobStore that forwards to another one and injects failures where a test asks for them:
// writers whose Append or Commit fails, and failing Contains / ContainsEach questions. Counts the
// calls it forwards. Thread-safe, as the store it wraps.
class FaultyBlobStore : public storage::BlobStore {
 public:
  explicit FaultyBlobStore(storage::BlobStore& inner) : inner_(inner) {}

  // The next `count` writers fail their Append once `after_bytes` bytes went through.
  void FailAppendsAfter(uint64_t after_bytes, Status status, int count = 1);
  // The next `count` commits fail with `status` (nothing is published).
  void FailCommits(Status status, int count = 1);
  // The next `count` Contains / ContainsEach calls fail with `status`.
  void FailLookups(Status status, int count = 1);

  size_t writers_opened() const { return writers_opened_; }
  size_t lookups() const { return lookups_; }

  Result<std::unique_ptr<storage::BlobWriter>> NewWriter(
      const storage::BlobExpectation& expectation) override;
  Result<bool> Contains(const std::string& sha256) override;
  Result<std::vector<bool>> ContainsEach(const std::vector<std::string>& sha256s) override;
  Result<storage::BlobFile> Open(const std::string& sha256) override { return inner_.Open(sha256); }
  Status Quarantine(const std::string& sha256) override { return inner_.Quarantine(sha256); }
  Result<std::string> Fingerprint(const std::string& sha256) override {
    return inner_.Fingerprint(sha256);
  }
  Status ForEach(const std::function<Status(const std::string& sha256)>& blob) override {
    return inner_.ForEach(blob);
  }
  Status Delete(const std::string& sha256) override { return inner_.Delete(sha256); }

 private:
  // Takes one queued failure of a kind, if any: a copy of `*status`, read under the lock.
  std::optional<Status> Take(int* count, const Status* status);

  storage::BlobStore& inner_;
  std::mutex mutex_;
  int append_failures_ = 0;
  uint64_t append_after_bytes_ = 0;
  Status append_status_;
  int commit_failures_ = 0;
  Status commit_status_;
  int lookup_failures_ = 0;
  Status lookup_status_;
  std::atomic<size_t> writers_opened_{0};
  std::atomic<size_t> lookups_{0};
};

}  // namespace hubmirror::testing
