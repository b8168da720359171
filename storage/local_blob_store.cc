#include "storage/local_blob_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/digest.h"

namespace hubmirror::storage {
namespace fs = std::filesystem;
namespace {

constexpr uint64_t kWriteBackChunk = 8 << 20;
constexpr uint64_t kWriteBehindMinBytes = 4 << 20;
constexpr size_t kWriteBehindQueueBytes = 8 << 20;

Status ErrnoStatus(const std::string& what, const fs::path& path) {
  return IoError(what + " " + path.string() + ": " + std::strerror(errno));
}

Status FsyncDirectory(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("cannot open directory", dir);
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return ErrnoStatus("cannot fsync directory", dir);
  return Status::Ok();
}

constexpr std::string_view kPrivateTempPrefix = "blob-";

// Private temp files of writers that died (SIGKILL) are garbage: unlike partial-* files they can
// never be resumed. A live writer holds a lock on its file, so only unlocked ones are removed.
void RemoveAbandonedTemporaries(const fs::path& tmp) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(tmp, ec)) {
    if (!entry.path().filename().string().starts_with(kPrivateTempPrefix)) continue;
    int fd = ::open(entry.path().c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) ::unlink(entry.path().c_str());
    ::close(fd);
  }
}

Status CheckDigestArgument(const std::string& sha256) {
  if (!IsSha256Hex(sha256)) {
    return InvalidArgument("not a SHA-256 digest (64 lowercase hex digits): '" +
                           sha256.substr(0, 80) + "'");
  }
  return Status::Ok();
}

// BlobWriter into a temp file under tmp/, renamed into blobs/ on Commit. Large blobs get a
// write-behind thread (internal; guarded by mutex_); the writer itself is used by one thread.
class LocalBlobWriter : public BlobWriter {
 public:
  // `keep_on_failure`: the temp file is a resumable partial that survives an uncommitted end.
  LocalBlobWriter(const LocalBlobStore* store, BlobExpectation expectation, int fd,
                  fs::path temp_path, bool keep_on_failure)
      : store_(store),
        expectation_(std::move(expectation)),
        fd_(fd),
        temp_path_(std::move(temp_path)),
        keep_on_failure_(keep_on_failure),
        hasher_(expectation_.size, expectation_.compute_git_sha1) {
    // Large blobs are written by a second thread while the caller receives and hashes the next
    // bytes: on one thread, hashing and file-system writes add up instead of overlapping.
    if (expectation_.size >= kWriteBehindMinBytes) {
      write_behind_ = std::thread([this] { WriteBehind(); });
    }
  }

  ~LocalBlobWriter() override {
    FinishWrites();
    if (fd_ >= 0) ::close(fd_);  // also releases the partial's lock
    if (!temp_path_.empty() && !keep_on_failure_) ::unlink(temp_path_.c_str());
  }

  // Feeds the bytes of an existing partial through the hasher so the digests cover them.
  Status AdoptExistingBytes() {
    struct stat info {};
    if (::fstat(fd_, &info) != 0) return ErrnoStatus("cannot stat", temp_path_);
    auto existing = static_cast<uint64_t>(info.st_size);
    if (existing > expectation_.size) {
      if (::ftruncate(fd_, 0) != 0) return ErrnoStatus("cannot truncate", temp_path_);
      existing = 0;
    }
    std::vector<char> buffer(1 << 20);
    while (written_ < existing) {
      ssize_t n =
          ::pread(fd_, buffer.data(),
                  static_cast<size_t>(std::min<uint64_t>(buffer.size(), existing - written_)),
                  static_cast<off_t>(written_));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return ErrnoStatus("cannot read", temp_path_);
      hasher_.Update(buffer.data(), static_cast<size_t>(n));
      written_ += static_cast<uint64_t>(n);
    }
    resumed_ = written_;
    on_disk_ = flushed_ = written_;
    if (::lseek(fd_, static_cast<off_t>(written_), SEEK_SET) < 0) {
      return ErrnoStatus("cannot seek", temp_path_);
    }
    return Status::Ok();
  }

  uint64_t resumed_bytes() const override { return resumed_; }

  Status Append(const void* data, size_t size) override {
    if (fd_ < 0) return Internal("blob writer used after Commit");
    if (written_ + size > expectation_.size) {
      keep_on_failure_ = false;
      return Corrupt("blob larger than declared: expected " + std::to_string(expectation_.size) +
                     " bytes, got at least " + std::to_string(written_ + size));
    }
    hasher_.Update(data, size);
    written_ += size;
    if (!write_behind_.joinable()) return WriteOut(static_cast<const char*>(data), size);
    std::unique_lock lock(mutex_);
    // Bounded: the receiver waits rather than buffering a whole file in memory.
    drained_.wait(lock, [this] { return queued_bytes_ < kWriteBehindQueueBytes || !status_.ok(); });
    if (!status_.ok()) return status_;
    queue_.emplace_back(static_cast<const char*>(data), size);
    queued_bytes_ += size;
    filled_.notify_one();
    return Status::Ok();
  }

  Result<StoredBlob> Commit() override {
    if (fd_ < 0) return Internal("blob writer committed twice");
    HM_RETURN_IF_ERROR(FinishWrites());
    if (written_ != expectation_.size) {
      return Corrupt("blob size mismatch: expected " + std::to_string(expectation_.size) +
                     " bytes, got " + std::to_string(written_));
    }
    // Complete but wrong bytes must not be resumed from: they would fail again.
    keep_on_failure_ = false;
    ContentHasher::Digests digests = hasher_.Finish();
    if (!expectation_.sha256.empty() && digests.sha256 != expectation_.sha256) {
      return Corrupt("sha256 mismatch: expected " + expectation_.sha256 + ", got " +
                     digests.sha256);
    }
    if (!expectation_.git_sha1.empty() && digests.git_sha1 != expectation_.git_sha1) {
      return Corrupt("git blob sha1 mismatch: expected " + expectation_.git_sha1 + ", got " +
                     digests.git_sha1);
    }
    StoredBlob blob{digests.sha256, digests.git_sha1, written_};
    fs::path target = store_->BlobPath(blob.sha256);
    std::error_code ec;
    if (fs::exists(target, ec)) return blob;  // identical content is already durable

    if (::fsync(fd_) != 0) return ErrnoStatus("cannot fsync", temp_path_);
    ::fchmod(fd_, 0444);
    fs::create_directories(target.parent_path(), ec);
    if (ec) return IoError("cannot create " + target.parent_path().string() + ": " + ec.message());
    // rename() replaces atomically, so a racing writer of the same content is harmless.
    if (::rename(temp_path_.c_str(), target.c_str()) != 0) {
      return ErrnoStatus("cannot publish blob to", target);
    }
    temp_path_.clear();
    ::close(fd_);
    fd_ = -1;
    HM_RETURN_IF_ERROR(FsyncDirectory(target.parent_path()));
    return blob;
  }

 private:
  // Writes bytes at the end of the temp file, starting write-back as they stream in so that the
  // fsync in Commit finds little left to write (it otherwise doubled the time to store a file).
  Status WriteOut(const char* bytes, size_t left) {
    while (left > 0) {
      ssize_t n = ::write(fd_, bytes, left);
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus("cannot write", temp_path_);
      }
      bytes += n;
      left -= static_cast<size_t>(n);
      on_disk_ += static_cast<uint64_t>(n);
    }
    if (on_disk_ - flushed_ >= kWriteBackChunk) {
      ::sync_file_range(fd_, static_cast<off_t>(flushed_), static_cast<off_t>(on_disk_ - flushed_),
                        SYNC_FILE_RANGE_WRITE);
      flushed_ = on_disk_;
    }
    return Status::Ok();
  }

  void WriteBehind() {
    std::unique_lock lock(mutex_);
    while (true) {
      filled_.wait(lock, [this] { return !queue_.empty() || closing_; });
      if (queue_.empty()) return;
      std::string chunk = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      Status written = status_.ok() ? WriteOut(chunk.data(), chunk.size()) : Status::Ok();
      lock.lock();
      if (!written.ok() && status_.ok()) status_ = written;
      queued_bytes_ -= chunk.size();
      drained_.notify_all();
    }
  }

  // Waits until every queued byte is written; the first write error, if any.
  Status FinishWrites() {
    if (!write_behind_.joinable()) return Status::Ok();
    {
      std::lock_guard lock(mutex_);
      closing_ = true;
    }
    filled_.notify_one();
    write_behind_.join();
    return status_;
  }

  const LocalBlobStore* store_;
  BlobExpectation expectation_;
  int fd_;
  fs::path temp_path_;
  bool keep_on_failure_;
  ContentHasher hasher_;
  uint64_t written_ = 0;  // bytes accepted by Append (hashed)
  uint64_t resumed_ = 0;
  uint64_t on_disk_ = 0;  // bytes written to the file (by the write-behind thread if any)
  uint64_t flushed_ = 0;  // bytes whose write-back has been started
  std::thread write_behind_;
  std::mutex mutex_;  // guards the queue, its byte count, closing_ and status_
  std::condition_variable filled_;
  std::condition_variable drained_;
  std::deque<std::string> queue_;
  size_t queued_bytes_ = 0;
  bool closing_ = false;
  Status status_;  // the first write error of the write-behind thread
};

}  // namespace

BlobFile::~BlobFile() {
  if (fd_ >= 0) ::close(fd_);
}

BlobFile& BlobFile::operator=(BlobFile&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    size_ = other.size_;
    other.fd_ = -1;
  }
  return *this;
}

Result<std::unique_ptr<LocalBlobStore>> LocalBlobStore::OpenDirectory(const fs::path& data_dir) {
  for (const char* sub : {"blobs/sha256", "tmp", "quarantine"}) {
    std::error_code ec;
    fs::create_directories(data_dir / sub, ec);
    if (ec) return IoError("cannot create " + (data_dir / sub).string() + ": " + ec.message());
  }
  RemoveAbandonedTemporaries(data_dir / "tmp");
  return std::unique_ptr<LocalBlobStore>(new LocalBlobStore(data_dir));
}

fs::path LocalBlobStore::BlobPath(const std::string& sha256) const {
  return data_dir_ / "blobs" / "sha256" / sha256.substr(0, 2) / sha256.substr(2, 2) / sha256;
}

Result<std::unique_ptr<BlobWriter>> LocalBlobStore::NewWriter(const BlobExpectation& expectation) {
  if (!expectation.sha256.empty()) HM_RETURN_IF_ERROR(CheckDigestArgument(expectation.sha256));
  if (!expectation.git_sha1.empty() && !IsSha1Hex(expectation.git_sha1)) {
    return InvalidArgument("not a git SHA-1 (40 lowercase hex digits): '" +
                           expectation.git_sha1.substr(0, 80) + "'");
  }
  if (expectation.resumable) {
    const std::string& key = expectation.sha256.empty() ? expectation.git_sha1 : expectation.sha256;
    if (key.empty()) return InvalidArgument("a resumable blob writer needs an expected digest");
    fs::path partial =
        data_dir_ / "tmp" / ("partial-" + key + "-" + std::to_string(expectation.size));
    int fd = ::open(partial.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return ErrnoStatus("cannot open", partial);
    // Another writer of the same content holds the partial: this one starts a private copy.
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) {
      auto writer = std::make_unique<LocalBlobWriter>(this, expectation, fd, partial, true);
      HM_RETURN_IF_ERROR(writer->AdoptExistingBytes());
      return std::unique_ptr<BlobWriter>(std::move(writer));
    }
    ::close(fd);
  }
  std::string pattern = (data_dir_ / "tmp" / (std::string(kPrivateTempPrefix) + "XXXXXX")).string();
  int fd = ::mkostemp(pattern.data(), O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("cannot create temporary file in", data_dir_ / "tmp");
  // Held until the writer ends: a temp file nobody holds was abandoned by a killed process.
  ::flock(fd, LOCK_EX);
  return std::unique_ptr<BlobWriter>(new LocalBlobWriter(this, expectation, fd, pattern, false));
}

Result<bool> LocalBlobStore::Contains(const std::string& sha256) {
  HM_RETURN_IF_ERROR(CheckDigestArgument(sha256));
  struct stat info {};
  if (::stat(BlobPath(sha256).c_str(), &info) == 0) return true;
  if (errno == ENOENT) return false;
  return ErrnoStatus("cannot stat", BlobPath(sha256));
}

Result<BlobFile> LocalBlobStore::Open(const std::string& sha256) {
  HM_RETURN_IF_ERROR(CheckDigestArgument(sha256));
  fs::path path = BlobPath(sha256);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return NotFound("blob " + sha256 + " is not in the store");
    return ErrnoStatus("cannot open", path);
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    Status status = ErrnoStatus("cannot stat", path);
    ::close(fd);
    return status;
  }
  return BlobFile(fd, static_cast<uint64_t>(info.st_size));
}

Status LocalBlobStore::Quarantine(const std::string& sha256) {
  HM_RETURN_IF_ERROR(CheckDigestArgument(sha256));
  fs::path path = BlobPath(sha256);
  // Named with the time too: the same digest may be quarantined more than once.
  fs::path target = data_dir_ / "quarantine" / (sha256 + "." + std::to_string(NowUnixMillis()));
  if (::rename(path.c_str(), target.c_str()) != 0) {
    if (errno == ENOENT) return NotFound("blob " + sha256 + " is not in the store");
    return ErrnoStatus("cannot quarantine", path);
  }
  return Status::Ok();
}

}  // namespace hubmirror::storage
