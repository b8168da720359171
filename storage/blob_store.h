#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace hubmirror::storage {

// What the writer of a blob declares up front. The size is required: the git blob SHA-1 hashes
// "blob <size>\0" before the content, so it is known before the first byte. Empty digests are
// not checked (a local import computes them instead of verifying them).
struct BlobExpectation {
  uint64_t size = 0;
  std::string sha256;
  std::string git_sha1;
  // Keep the bytes of an interrupted write (process killed, transfer failed) under a name derived
  // from the expected digest, so that a later writer with the same expectation resumes from them.
  // Needs `sha256` or `git_sha1`. Bytes found corrupt are never kept.
  bool resumable = false;
  // The content's git blob SHA-1 costs a second hash; LFS content is known by its SHA-256 (its
  // git id is the pointer's), so callers that do not need it may skip it (StoredBlob.git_sha1 is
  // then empty).
  bool compute_git_sha1 = true;
};

// A blob that is durable in the store, with both of its identities.
struct StoredBlob {
  std::string sha256;
  std::string git_sha1;
  uint64_t size = 0;
};

// An open, read-only blob: a file descriptor (so the server can sendfile it) and its size.
// Move-only; closes the descriptor on destruction. Not thread-safe, but the descriptor may be
// used with pread/sendfile-at-offset from one thread at a time.
class BlobFile {
 public:
  BlobFile(int fd, uint64_t size) : fd_(fd), size_(size) {}
  ~BlobFile();
  BlobFile(BlobFile&& other) noexcept : fd_(other.fd_), size_(other.size_) { other.fd_ = -1; }
  BlobFile& operator=(BlobFile&& other) noexcept;
  BlobFile(const BlobFile&) = delete;
  BlobFile& operator=(const BlobFile&) = delete;

  int fd() const { return fd_; }
  uint64_t size() const { return size_; }

 private:
  int fd_;
  uint64_t size_;
};

// Streams one blob into the store. Bytes go to a private temporary object while both digests
// are computed in the same pass; nothing is visible under the blob's address until Commit has
// verified size and digests and made the bytes durable. Destroying an uncommitted writer
// discards its bytes. One writer per thread.
class BlobWriter {
 public:
  virtual ~BlobWriter() = default;
  // Bytes already present from an earlier interrupted writer (resumable writers only): the next
  // Append continues at this offset.
  virtual uint64_t resumed_bytes() const = 0;
  // kIoError when the bytes cannot be written; kCorrupt when more bytes than declared arrive.
  virtual Status Append(const void* data, size_t size) = 0;
  // For readers that follow the write as it goes (a pull-through fill streaming to its first
  // clients): a descriptor open for reading on the blob's bytes, and how many of them, from the
  // start, pread or sendfile through it can see now. The descriptor stays valid whatever
  // happens to the writer; readable_bytes may be called from any thread. kIoError when the
  // bytes cannot be opened.
  virtual Result<BlobFile> OpenWritten() = 0;
  virtual uint64_t readable_bytes() const = 0;
  // Makes every byte appended so far readable through OpenWritten (readable_bytes then counts
  // them all), waiting for writes under way; a writer may hold bytes back until then, or until
  // Commit. Appending may go on afterwards. kIoError when a write failed.
  virtual Status Flush() = 0;
  // Verifies the declared size and any declared digest, then publishes the blob atomically.
  // kCorrupt (message names expected and actual values) leaves the store unchanged. Committing
  // content that is already stored succeeds and keeps the stored copy.
  virtual Result<StoredBlob> Commit() = 0;
};

// A stored blob as a listing sees it: `modified_ms` (unix milliseconds) is when it was last
// written or touched (BlobStore::Touch).
struct BlobListing {
  std::string sha256;
  uint64_t size = 0;
  int64_t modified_ms = 0;
};

// What a sweep of a store's other files removed (or, in a dry run, would remove).
struct SweepReport {
  size_t files = 0;
  uint64_t bytes = 0;
};

// A job that writes blobs now and publishes registry rows naming them later (a sync, an import, a
// pull-through fill) holds one while it runs: garbage collection, in any process, keeps every
// blob written or touched since the lease began. Released when destroyed, or when its process
// dies. Not thread-safe (one owner).
class WriteLease {
 public:
  virtual ~WriteLease() = default;
};

// Content-addressed blob storage: every blob lives at the SHA-256 of its bytes, so identical
// content is stored once. Implementations are safe to use from many threads at once, and two
// writers racing on the same content both succeed with one stored copy.
class BlobStore {
 public:
  virtual ~BlobStore() = default;
  virtual Result<std::unique_ptr<BlobWriter>> NewWriter(const BlobExpectation& expectation) = 0;
  // True when a blob with this SHA-256 (lowercase hex) is stored. kInvalidArgument for bad hex.
  virtual Result<bool> Contains(const std::string& sha256) = 0;
  // Which of these SHA-256s are stored, in the same order: one question for a whole tree, which
  // a store may answer with fewer round trips than a Contains each. kInvalidArgument for bad hex.
  virtual Result<std::vector<bool>> ContainsEach(const std::vector<std::string>& sha256s) = 0;
  // Calls `blob` with every stored blob, in no particular order, and stops at the first error it
  // returns (which ForEach returns). Blobs stored or removed meanwhile may or may not be seen.
  // kIoError when the store cannot be listed.
  virtual Status ForEach(const std::function<Status(const BlobListing& blob)>& blob) = 0;
  // Removes a stored blob for good (the caller knows that nothing names it). kNotFound when
  // absent, kInvalidArgument for bad hex.
  virtual Status Delete(const std::string& sha256) = 0;

  // ---- Garbage collection: what lets it run beside jobs that write, in any process ----

  // Marks stored content as just used by a writer that counts on it instead of writing it again,
  // so that a collection running meanwhile keeps it. kNotFound when absent.
  virtual Status Touch(const std::string& sha256) = 0;
  // Removes a stored blob unless it was written or touched at or after `unused_since_ms`: true
  // when removed, false when kept. kNotFound when absent, kInvalidArgument for bad hex.
  virtual Result<bool> DeleteUnusedSince(const std::string& sha256, int64_t unused_since_ms) = 0;
  // Starts a WriteLease (see there). kIoError when it cannot be recorded.
  virtual Result<std::unique_ptr<WriteLease>> LeaseWrites() = 0;
  // When the oldest WriteLease of a live job began (unix ms), in any process; nullopt when none.
  // Leases left by dead processes are cleared on the way.
  virtual Result<std::optional<int64_t>> OldestLease() = 0;
  // Removes temporary files (abandoned writes, resumable partials nobody resumed) last written
  // before `unused_since_ms` and held by no live writer; with `dry_run`, only counts them.
  virtual Result<SweepReport> SweepTemporaries(int64_t unused_since_ms, bool dry_run) = 0;
  // Removes quarantined blobs moved aside before `quarantined_before_ms`; `dry_run` as above.
  virtual Result<SweepReport> SweepQuarantine(int64_t quarantined_before_ms, bool dry_run) = 0;
  // A token naming the stored copy's current version: it changes whenever the copy is
  // replaced or written to (so a server may keep bytes it verified for as long as it is the
  // same). Empty while the store cannot yet tell this version from a later one (the copy changed
  // too recently). kNotFound when absent, kInvalidArgument for bad hex.
  virtual Result<std::string> Fingerprint(const std::string& sha256) = 0;
  // Opens a stored blob for reading. kNotFound when absent, kInvalidArgument for bad hex.
  virtual Result<BlobFile> Open(const std::string& sha256) = 0;
  // Moves a blob found corrupt out of the store, kept aside for inspection: it is never served
  // again, and a writer of the same digest stores good bytes anew. kNotFound when absent.
  virtual Status Quarantine(const std::string& sha256) = 0;
  // The blob's bytes as the store keeps them, for verification: a store that keeps a checked
  // copy nearby (S3BlobStore's cache) reads its own copy afresh instead, unchecked. Errors as
  // Open's.
  virtual Result<BlobFile> OpenStored(const std::string& sha256) { return Open(sha256); }
  // A URL from which a client may GET the blob itself (self-authorising, ranges allowed, valid
  // for `valid_seconds`), when the store is set to serve blobs that way; nullopt when the server
  // sends the bytes. Costs no request; whether the blob exists is the caller's to know.
  virtual std::optional<std::string> DirectReadUrl(const std::string& sha256,
                                                   int64_t valid_seconds) {
    (void)sha256;
    (void)valid_seconds;
    return std::nullopt;
  }
};

// The whole content of a stored blob, for small files the server reads itself (a README's card,
// a .gitattributes): kNotFound when it is not stored, kInvalidArgument when it is larger than
// `max_bytes`.
Result<std::string> ReadWholeBlob(BlobStore& store, const std::string& sha256, uint64_t max_bytes);

}  // namespace hubmirror::storage
