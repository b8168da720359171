#pragma once

#include <filesystem>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "storage/local_blob_store.h"
#include "storage/s3_client.h"

namespace hubmirror::storage {

// The ids of the multipart uploads this process has under way. Thread-safe.
class LiveUploads {
 public:
  // Registers an id for its lifetime.
  class Entry {
   public:
    Entry(LiveUploads& live, std::string id) : live_(live), id_(std::move(id)) {
      std::lock_guard lock(live_.mutex_);
      live_.ids_.insert(id_);
    }
    ~Entry() {
      std::lock_guard lock(live_.mutex_);
      live_.ids_.erase(id_);
    }
    Entry(const Entry&) = delete;
    Entry& operator=(const Entry&) = delete;

   private:
    LiveUploads& live_;
    std::string id_;
  };
  bool Contains(const std::string& id) {
    std::lock_guard lock(mutex_);
    return ids_.count(id) > 0;
  }

 private:
  std::mutex mutex_;
  std::set<std::string> ids_;
};

// BlobStore in an S3 bucket, with a local directory for what is in flight and a cache of what
// was read. Under the client's prefix:
//   blobs/<64 hex>     published blobs: an object exists only once its digests were checked
//   touched/<64 hex>   empty markers whose time records a use (Touch) of a blob written earlier
//   quarantine/<64 hex>.<unix ms>   blobs found corrupt
// Writers stream into the local directory (a LocalBlobStore: hashing, resumable partials,
// OpenWritten for followers, write leases), which checks size and digests at Commit; only then
// is the blob uploaded (in parts of 8 MiB past that size, one part in memory), so a wrong byte
// never exists under a digest's name in the bucket. Open serves the local copy, fetching it first
// when absent (hashed on the way: a corrupt object is refused, never cached). Leases and
// temporaries are local, besides multipart uploads a killed writer left in the bucket, which
// the sweep aborts: one node writes (see the README's several-node topology). Errors as
// S3Client's; kCorrupt for an object whose bytes are not its name's. Thread-safe.
class S3BlobStore : public BlobStore {
 public:
  // `local_dir` holds the in-flight files and the cache (created when missing). With
  // `redirect`, DirectReadUrl gives presigned URLs of the objects, so clients download from the
  // object store itself.
  static Result<std::unique_ptr<S3BlobStore>> Open(std::unique_ptr<S3Client> client,
                                                   const std::filesystem::path& local_dir,
                                                   bool redirect = false);

  Result<std::unique_ptr<BlobWriter>> NewWriter(const BlobExpectation& expectation) override;
  Result<bool> Contains(const std::string& sha256) override;
  Result<std::vector<bool>> ContainsEach(const std::vector<std::string>& sha256s) override;
  Status ForEach(const std::function<Status(const BlobListing& blob)>& blob) override;
  Status Delete(const std::string& sha256) override;
  Status Touch(const std::string& sha256) override;
  Result<bool> DeleteUnusedSince(const std::string& sha256, int64_t unused_since_ms) override;
  Result<std::unique_ptr<WriteLease>> LeaseWrites() override;
  Result<std::optional<int64_t>> OldestLease() override;
  // The local directory's sweep, and multipart uploads in the bucket begun before
  // `unused_since_ms` by no writer of this process (left by a killed one): aborted.
  Result<SweepReport> SweepTemporaries(int64_t unused_since_ms, bool dry_run) override;
  Result<SweepReport> SweepQuarantine(int64_t quarantined_before_ms, bool dry_run) override;
  // The object's ETag and size (they change when it is replaced).
  Result<std::string> Fingerprint(const std::string& sha256) override;
  Result<BlobFile> Open(const std::string& sha256) override;
  Status Quarantine(const std::string& sha256) override;
  std::optional<std::string> DirectReadUrl(const std::string& sha256,
                                           int64_t valid_seconds) override;
  // The object's bytes, fetched into a temporary file (never the cache), unchecked.
  Result<BlobFile> OpenStored(const std::string& sha256) override;

  // Uploads the local copy of a blob just committed there, unless the bucket has it; then it
  // counts as used (Touch). Called by this store's writers.
  Status Publish(const std::string& sha256);

 private:
  S3BlobStore(std::unique_ptr<S3Client> client, std::unique_ptr<LocalBlobStore> local,
              bool redirect)
      : client_(std::move(client)), local_(std::move(local)), redirect_(redirect) {}
  // When the object `key` was last written, from a listing (which has milliseconds, where a
  // HEAD has seconds); nullopt when absent.
  Result<std::optional<int64_t>> ObjectTime(const std::string& key);
  // The object streamed into a local writer, unpublished: `checked` declares its digest, so that
  // the writer's Commit verifies the bytes. kNotFound when it is not stored.
  Result<std::unique_ptr<BlobWriter>> Fetch(const std::string& sha256, bool checked);
  // The blob's last write or use; kNotFound when it is not stored.
  Result<int64_t> LastUse(const std::string& sha256);

  std::unique_ptr<S3Client> client_;
  std::unique_ptr<LocalBlobStore> local_;
  const bool redirect_;
  LiveUploads live_uploads_;
};

}  // namespace hubmirror::storage
