#pragma once

#include <sys/stat.h>

#include <filesystem>
#include <memory>
#include <optional>

#include "storage/blob_store.h"

namespace hubmirror::storage {

// BlobStore on the local file system, under a data directory:
//   blobs/sha256/ab/cd/<64 hex>   published blobs, read-only files
//   tmp/                          writers' temporary files (same file system, so rename is atomic)
//   quarantine/                   blobs found corrupt (moved here by verification jobs)
//   leases/                       the WriteLeases of live jobs
// Thread-safe: no mutable state besides the file system, whose rename is the commit point.
class LocalBlobStore : public BlobStore {
 public:
  // Creates the directories when missing, and removes temp files that killed writers abandoned
  // (resumable partials stay). kIoError when the directories cannot be created.
  static Result<std::unique_ptr<LocalBlobStore>> OpenDirectory(
      const std::filesystem::path& data_dir);

  Result<std::unique_ptr<BlobWriter>> NewWriter(const BlobExpectation& expectation) override;
  Result<bool> Contains(const std::string& sha256) override;
  Result<std::vector<bool>> ContainsEach(const std::vector<std::string>& sha256s) override;
  Status ForEach(const std::function<Status(const BlobListing& blob)>& blob) override;
  Status Delete(const std::string& sha256) override;
  // Garbage collection's support (local_store_upkeep.cc). Leases are files leases/lease-* that
  // their job holds locked (flock), so that a dead process's lease is seen free.
  Status Touch(const std::string& sha256) override;
  Result<bool> DeleteUnusedSince(const std::string& sha256, int64_t unused_since_ms) override;
  Result<std::unique_ptr<WriteLease>> LeaseWrites() override;
  Result<std::optional<int64_t>> OldestLease() override;
  Result<SweepReport> SweepTemporaries(int64_t unused_since_ms, bool dry_run) override;
  Result<SweepReport> SweepQuarantine(int64_t quarantined_before_ms, bool dry_run) override;
  Result<BlobFile> Open(const std::string& sha256) override;
  // Device, inode, size, modification and change times; empty within two seconds of a change,
  // since file system timestamps are coarser than the time between two writes.
  Result<std::string> Fingerprint(const std::string& sha256) override;
  Status Quarantine(const std::string& sha256) override;

  // Where the blob with this digest lives (whether or not it exists).
  std::filesystem::path BlobPath(const std::string& sha256) const;

 private:
  explicit LocalBlobStore(std::filesystem::path data_dir) : data_dir_(std::move(data_dir)) {}
  std::string BlobFileName(const std::string& sha256) const;  // BlobPath, as text
  // stat(2) of a stored blob: kNotFound when absent, kInvalidArgument for bad hex.
  Status StatBlob(const std::string& sha256, struct stat* info) const;
  std::filesystem::path data_dir_;
};

}  // namespace hubmirror::storage
