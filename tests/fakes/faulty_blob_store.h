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
  Status ForEach(const std::function<Status(const storage::BlobListing& blob)>& blob) override {
    return inner_.ForEach(blob);
  }
  Status Delete(const std::string& sha256) override { return inner_.Delete(sha256); }
  Status Touch(const std::string& sha256) override { return inner_.Touch(sha256); }
  Result<bool> DeleteUnusedSince(const std::string& sha256, int64_t unused_since_ms) override {
    return inner_.DeleteUnusedSince(sha256, unused_since_ms);
  }
  Result<std::unique_ptr<storage::WriteLease>> LeaseWrites() override {
    return inner_.LeaseWrites();
  }
  Result<std::optional<int64_t>> OldestLease() override { return inner_.OldestLease(); }
  Result<storage::SweepReport> SweepTemporaries(int64_t unused_since_ms, bool dry_run) override {
    return inner_.SweepTemporaries(unused_since_ms, dry_run);
  }
  Result<storage::SweepReport> SweepQuarantine(int64_t quarantined_before_ms,
                                               bool dry_run) override {
    return inner_.SweepQuarantine(quarantined_before_ms, dry_run);
  }

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
