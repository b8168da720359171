#include "storage/local_blob_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/digest.h"
#include "common/files.h"
#include "common/mapped_buffer.h"
#include "storage/local_store_layout.h"

namespace hubmirror::storage {
namespace fs = std::filesystem;
using local_layout::CheckDigest;
using local_layout::kPartialPrefix;
using local_layout::kPrivateTempPrefix;
namespace {

constexpr uint64_t kWriteBackChunk = 8 << 20;
constexpr uint64_t kWriteBehindMinBytes = 4 << 20;
// Write-behind stages bytes in a few buffers that its thread writes out, so the receiver waits
// rather than buffering a whole file in memory.
constexpr size_t kStagingBufferBytes = 2 << 20;
constexpr size_t kStagingBuffers = 4;
// O_DIRECT needs file offsets, lengths and memory aligned to the device's logical block; 4096
// covers the usual 512 and 4096. A device that needs more refuses with EINVAL, and the writer
// goes on through the page cache.
constexpr uint64_t kDirectAlignment = 4096;

// Private temp files and write leases of processes that died (SIGKILL) are garbage: unlike
// partial-* files they can never be resumed. A live writer or job holds a lock on its file, so
// only unlocked ones are removed.
void RemoveAbandoned(const fs::path& dir, std::string_view prefix) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (!prefix.empty() && !entry.path().filename().string().starts_with(prefix)) continue;
    int fd = ::open(entry.path().c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) ::unlink(entry.path().c_str());
    ::close(fd);
  }
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
      // And written around the page cache where the file system allows: copying a gigabyte into
      // the cache and writing it back cost more CPU than hashing it, and a mirror's fresh blobs
      // are not read again soon. Without O_DIRECT, buffered writes do the same job.
      direct_fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_DIRECT | O_CLOEXEC);
      write_behind_ = std::thread([this] { WriteBehind(); });
    }
  }

  ~LocalBlobWriter() override {
    // An abandoned writer's failed writes do not matter: its bytes are discarded, or kept as a
    // partial whose every byte is hashed again before a resume can publish it.
    (void)FinishWrites();
    if (direct_fd_ >= 0) ::close(direct_fd_);
    if (fd_ >= 0) ::close(fd_);  // also releases the partial's lock
    if (!temp_path_.empty() && !keep_on_failure_) ::unlink(temp_path_.c_str());
  }

  // Feeds the bytes of an existing partial through the hasher so the digests cover them.
  Status AdoptExistingBytes() {
    struct stat info {};
    if (::fstat(fd_, &info) != 0) return ErrnoStatus("cannot stat " + temp_path_.string(), errno);
    auto existing = static_cast<uint64_t>(info.st_size);
    if (existing > expectation_.size) {
      if (::ftruncate(fd_, 0) != 0) {
        return ErrnoStatus("cannot truncate " + temp_path_.string(), errno);
      }
      existing = 0;
    }
    std::vector<char> buffer(1 << 20);
    while (written_ < existing) {
      ssize_t n =
          ::pread(fd_, buffer.data(),
                  static_cast<size_t>(std::min<uint64_t>(buffer.size(), existing - written_)),
                  static_cast<off_t>(written_));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return ErrnoStatus("cannot read " + temp_path_.string(), errno);
      hasher_.Update(buffer.data(), static_cast<size_t>(n));
      written_ += static_cast<uint64_t>(n);
    }
    resumed_ = written_;
    on_disk_ = flushed_ = staged_ = written_;
    return Status::Ok();
  }

  uint64_t resumed_bytes() const override { return resumed_; }

  Result<BlobFile> OpenWritten() override {
    if (fd_ < 0) return Internal("blob writer used after Commit");
    int fd = ::open(temp_path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus("cannot open " + temp_path_.string(), errno);
    return BlobFile(fd, expectation_.size);
  }

  uint64_t readable_bytes() const override { return on_disk_.load(std::memory_order_acquire); }

  // Ends the write-behind thread (later appends are written through the page cache).
  Status Flush() override {
    if (fd_ < 0) return Internal("blob writer used after Commit");
    return FinishWrites();
  }

  Status Append(const void* data, size_t size) override {
    if (fd_ < 0) return Internal("blob writer used after Commit");
    if (written_ + size > expectation_.size) {
      keep_on_failure_ = false;
      return Corrupt("blob larger than declared: expected " + std::to_string(expectation_.size) +
                     " bytes, got at least " + std::to_string(written_ + size));
    }
    hasher_.Update(data, size);
    written_ += size;
    const char* bytes = static_cast<const char*>(data);
    if (!write_behind_.joinable()) return WriteBuffered(bytes, size);
    while (size > 0) {
      if (filling_.capacity() == 0) HM_RETURN_IF_ERROR(TakeStagingBuffer());
      // A buffer ends on a block boundary of the file, so that after a resume from the middle of
      // a block only the first one is written through the page cache.
      size_t room = kStagingBufferBytes - staged_ % kDirectAlignment - filling_.size();
      size_t taken = filling_.Append(bytes, std::min(size, room));
      bytes += taken;
      size -= taken;
      if (taken == room) HandOver();
    }
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
    // Identical content is already durable: this writer counts on it now, as a sync that
    // skips stored content does (a garbage collection running meanwhile must keep it).
    if (fs::exists(target, ec)) {
      if (::utimensat(AT_FDCWD, target.c_str(), nullptr, 0) != 0 && errno != ENOENT) {
        return ErrnoStatus("cannot touch " + target.string(), errno);
      }
      return blob;
    }

    if (::fsync(fd_) != 0) return ErrnoStatus("cannot fsync " + temp_path_.string(), errno);
    ::fchmod(fd_, 0444);
    fs::create_directories(target.parent_path(), ec);
    if (ec) return IoError("cannot create " + target.parent_path().string() + ": " + ec.message());
    // rename() replaces atomically, so a racing writer of the same content is harmless.
    if (::rename(temp_path_.c_str(), target.c_str()) != 0) {
      return ErrnoStatus("cannot publish blob to " + target.string(), errno);
    }
    temp_path_.clear();
    ::close(fd_);
    fd_ = -1;
    HM_RETURN_IF_ERROR(FsyncDirectory(target.parent_path()));
    return blob;
  }

 private:
  // Writes bytes at the end of the file through `fd`; 0, or the errno of the write that failed.
  int WriteAt(int fd, const char* bytes, size_t left) {
    while (left > 0) {
      uint64_t offset = on_disk_.load(std::memory_order_relaxed);
      ssize_t n = ::pwrite(fd, bytes, left, static_cast<off_t>(offset));
      if (n < 0) {
        if (errno == EINTR) continue;
        return errno;
      }
      bytes += n;
      left -= static_cast<size_t>(n);
      on_disk_.store(offset + static_cast<uint64_t>(n), std::memory_order_release);
    }
    return 0;
  }

  Status WriteFailed(int error) const {
    return ErrnoStatus("cannot write " + temp_path_.string(), error);
  }

  // Writes through the page cache, starting write-back as bytes stream in so that the fsync in
  // Commit finds little left to write (it otherwise doubled the time to store a file).
  Status WriteBuffered(const char* bytes, size_t size) {
    if (int error = WriteAt(fd_, bytes, size)) return WriteFailed(error);
    if (on_disk_ - flushed_ >= kWriteBackChunk) {
      ::sync_file_range(fd_, static_cast<off_t>(flushed_), static_cast<off_t>(on_disk_ - flushed_),
                        SYNC_FILE_RANGE_WRITE);
      flushed_ = on_disk_;
    }
    return Status::Ok();
  }

  // Writes a staged buffer: its whole blocks directly when the file system allows, the rest (a
  // blob's last bytes) through the page cache.
  Status WriteStaged(const MappedBuffer& staged) {
    size_t direct = 0;
    if (direct_fd_ >= 0 && on_disk_ % kDirectAlignment == 0) {
      direct = staged.size() - staged.size() % kDirectAlignment;
    }
    if (direct > 0) {
      uint64_t start = on_disk_;
      int error = WriteAt(direct_fd_, staged.data(), direct);
      if (error == EINVAL) {  // the file system refuses direct writes after all
        ::close(direct_fd_);
        direct_fd_ = -1;
      } else if (error != 0) {
        return WriteFailed(error);
      }
      direct = static_cast<size_t>(on_disk_ - start);
      flushed_ = on_disk_;  // nothing of it is in the page cache to write back
    }
    return WriteBuffered(staged.data() + direct, staged.size() - direct);
  }

  // Waits for a free staging buffer (making one while fewer than kStagingBuffers exist).
  Status TakeStagingBuffer() {
    std::unique_lock lock(mutex_);
    drained_.wait(lock, [this] {
      return !free_.empty() || staging_buffers_ < kStagingBuffers || !status_.ok();
    });
    if (!status_.ok()) return status_;
    if (!free_.empty()) {
      filling_ = std::move(free_.back());
      free_.pop_back();
      return Status::Ok();
    }
    try {
      filling_ = MappedBuffer(kStagingBufferBytes);
    } catch (const std::bad_alloc&) {
      return Internal("no memory for a write buffer of " + temp_path_.string());
    }
    ++staging_buffers_;
    return Status::Ok();
  }

  // Queues the buffer being filled for the write-behind thread.
  void HandOver() {
    staged_ += filling_.size();
    std::lock_guard lock(mutex_);
    full_.push_back(std::move(filling_));
    filling_ = MappedBuffer();
    filled_.notify_one();
  }

  void WriteBehind() {
    std::unique_lock lock(mutex_);
    while (true) {
      filled_.wait(lock, [this] { return !full_.empty() || closing_; });
      if (full_.empty()) return;
      MappedBuffer staged = std::move(full_.front());
      full_.pop_front();
      lock.unlock();
      Status written = status_.ok() ? WriteStaged(staged) : Status::Ok();
      staged.Clear();
      lock.lock();
      if (!written.ok() && status_.ok()) status_ = written;
      free_.push_back(std::move(staged));
      drained_.notify_all();
    }
  }

  // Writes what is staged and waits until it is written; the first write error, if any.
  Status FinishWrites() {
    if (!write_behind_.joinable()) return Status::Ok();
    if (filling_.size() > 0) HandOver();
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
  int direct_fd_ = -1;  // the same file opened with O_DIRECT, or -1
  fs::path temp_path_;
  bool keep_on_failure_;
  ContentHasher hasher_;
  uint64_t written_ = 0;  // bytes accepted by Append (hashed)
  uint64_t resumed_ = 0;
  // Bytes written to the file (by the write-behind thread if any); read by followers too.
  std::atomic<uint64_t> on_disk_{0};
  uint64_t flushed_ = 0;  // bytes whose write-back has been started
  MappedBuffer filling_;  // the staging buffer Append fills (write-behind only)
  uint64_t staged_ = 0;   // file offset where filling_ starts
  std::thread write_behind_;
  std::mutex mutex_;  // guards the staging buffers below, closing_ and status_
  std::condition_variable filled_;
  std::condition_variable drained_;
  std::deque<MappedBuffer> full_;
  std::vector<MappedBuffer> free_;
  size_t staging_buffers_ = 0;
  bool closing_ = false;
  Status status_;  // the first write error of the write-behind thread
};

}  // namespace

Result<std::string> ReadWholeBlob(BlobStore& store, const std::string& sha256, uint64_t max_bytes) {
  auto file = store.Open(sha256);
  if (!file.ok()) return file.status();
  if (file->size() > max_bytes) {
    return InvalidArgument("blob " + sha256 + " is larger than " + std::to_string(max_bytes) +
                           " bytes");
  }
  std::string bytes(file->size(), '\0');
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n =
        ::pread(file->fd(), bytes.data() + done, bytes.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return ErrnoStatus("cannot read blob " + sha256, n < 0 ? errno : EIO);
    done += static_cast<size_t>(n);
  }
  return bytes;
}

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
  for (const char* sub : {"blobs/sha256", "tmp", "quarantine", "leases"}) {
    std::error_code ec;
    fs::create_directories(data_dir / sub, ec);
    if (ec) return IoError("cannot create " + (data_dir / sub).string() + ": " + ec.message());
  }
  RemoveAbandoned(data_dir / "tmp", kPrivateTempPrefix);
  RemoveAbandoned(data_dir / local_layout::kLeaseDirectory, "");
  return std::unique_ptr<LocalBlobStore>(new LocalBlobStore(data_dir));
}

fs::path LocalBlobStore::BlobPath(const std::string& sha256) const {
  return fs::path(BlobFileName(sha256));
}

std::string LocalBlobStore::BlobFileName(const std::string& sha256) const {
  // Joined as text: every download asks, and a path splits and re-parses itself at each step.
  std::string path = data_dir_.native();
  path.reserve(path.size() + 90);
  path += "/blobs/sha256/";
  path.append(sha256, 0, 2);
  path += '/';
  path.append(sha256, 2, 2);
  path += '/';
  path += sha256;
  return path;
}

Result<std::unique_ptr<BlobWriter>> LocalBlobStore::NewWriter(const BlobExpectation& expectation) {
  if (!expectation.sha256.empty()) HM_RETURN_IF_ERROR(CheckDigest(expectation.sha256));
  if (!expectation.git_sha1.empty() && !IsSha1Hex(expectation.git_sha1)) {
    return InvalidArgument("not a git SHA-1 (40 lowercase hex digits): '" +
                           expectation.git_sha1.substr(0, 80) + "'");
  }
  if (expectation.resumable) {
    const std::string& key = expectation.sha256.empty() ? expectation.git_sha1 : expectation.sha256;
    if (key.empty()) return InvalidArgument("a resumable blob writer needs an expected digest");
    fs::path partial = data_dir_ / "tmp" /
                       (std::string(kPartialPrefix) + key + "-" + std::to_string(expectation.size));
    int fd = ::open(partial.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return ErrnoStatus("cannot open " + partial.string(), errno);
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
  if (fd < 0) {
    return ErrnoStatus("cannot create temporary file in " + (data_dir_ / "tmp").string(), errno);
  }
  // Held until the writer ends: a temp file nobody holds was abandoned by a killed process.
  ::flock(fd, LOCK_EX);
  return std::unique_ptr<BlobWriter>(new LocalBlobWriter(this, expectation, fd, pattern, false));
}

Result<bool> LocalBlobStore::Contains(const std::string& sha256) {
  HM_RETURN_IF_ERROR(CheckDigest(sha256));
  struct stat info {};
  if (::stat(BlobFileName(sha256).c_str(), &info) == 0) return true;
  if (errno == ENOENT) return false;
  return ErrnoStatus("cannot stat " + BlobPath(sha256).string(), errno);
}

Status LocalBlobStore::StatBlob(const std::string& sha256, struct stat* info) const {
  HM_RETURN_IF_ERROR(CheckDigest(sha256));
  std::string path = BlobFileName(sha256);
  if (::stat(path.c_str(), info) != 0) {
    if (errno == ENOENT) return NotFound("blob " + sha256 + " is not in the store");
    return ErrnoStatus("cannot stat " + path, errno);
  }
  return Status::Ok();
}

Result<std::string> LocalBlobStore::Fingerprint(const std::string& sha256) {
  struct stat info {};
  HM_RETURN_IF_ERROR(StatBlob(sha256, &info));
  constexpr int64_t kTimestampDoubtMs = 2000;
  auto millis = [](const struct timespec& t) {
    return static_cast<int64_t>(t.tv_sec) * 1000 + t.tv_nsec / 1000000;
  };
  if (NowUnixMillis() - std::max(millis(info.st_mtim), millis(info.st_ctim)) < kTimestampDoubtMs) {
    return std::string();
  }
  auto nanos = [](const struct timespec& t) {
    return std::to_string(t.tv_sec) + "." + std::to_string(t.tv_nsec);
  };
  return std::to_string(info.st_dev) + ":" + std::to_string(info.st_ino) + ":" +
         std::to_string(info.st_size) + ":" + nanos(info.st_mtim) + ":" + nanos(info.st_ctim);
}

Result<BlobFile> LocalBlobStore::Open(const std::string& sha256) {
  HM_RETURN_IF_ERROR(CheckDigest(sha256));
  std::string path = BlobFileName(sha256);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return NotFound("blob " + sha256 + " is not in the store");
    return ErrnoStatus("cannot open " + path, errno);
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    Status status = ErrnoStatus("cannot stat " + path, errno);
    ::close(fd);
    return status;
  }
  return BlobFile(fd, static_cast<uint64_t>(info.st_size));
}

Status LocalBlobStore::Quarantine(const std::string& sha256) {
  HM_RETURN_IF_ERROR(CheckDigest(sha256));
  fs::path path = BlobPath(sha256);
  // Named with the time too: the same digest may be quarantined more than once.
  fs::path target = data_dir_ / "quarantine" / (sha256 + "." + std::to_string(NowUnixMillis()));
  if (::rename(path.c_str(), target.c_str()) != 0) {
    if (errno == ENOENT) return NotFound("blob " + sha256 + " is not in the store");
    return ErrnoStatus("cannot quarantine " + path.string(), errno);
  }
  return Status::Ok();
}

Result<std::vector<bool>> LocalBlobStore::ContainsEach(const std::vector<std::string>& sha256s) {
  // A stat each: the kernel's dentry cache answers these without touching the disk.
  std::vector<bool> stored;
  stored.reserve(sha256s.size());
  for (const auto& sha256 : sha256s) {
    auto contains = Contains(sha256);
    if (!contains.ok()) return contains.status();
    stored.push_back(*contains);
  }
  return stored;
}

Status local_layout::CheckDigest(const std::string& sha256) {
  if (!IsSha256Hex(sha256)) {
    return InvalidArgument("not a SHA-256 digest (64 lowercase hex digits): '" +
                           sha256.substr(0, 80) + "'");
  }
  return Status::Ok();
}

}  // namespace hubmirror::storage
