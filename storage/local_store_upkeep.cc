// LocalBlobStore's listing and removal of blobs, and what lets garbage collection run beside jobs
// that write: touches, conditional deletes, write leases, and sweeps of tmp/ and quarantine/.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <random>
#include <system_error>

#include "common/clock.h"
#include "common/digest.h"
#include "storage/local_blob_store.h"
#include "storage/local_store_layout.h"

namespace hubmirror::storage {
namespace fs = std::filesystem;
using local_layout::CheckDigest;

namespace {

int64_t Millis(const struct timespec& t) {
  return static_cast<int64_t>(t.tv_sec) * 1000 + t.tv_nsec / 1000000;
}

// A lease file, locked for as long as this object lives.
class LocalWriteLease : public WriteLease {
 public:
  LocalWriteLease(int fd, fs::path path) : fd_(fd), path_(std::move(path)) {}
  ~LocalWriteLease() override {
    ::unlink(path_.c_str());
    ::close(fd_);  // releases the lock
  }

 private:
  int fd_;
  fs::path path_;
};

// Whether a live process holds `path` locked (a writer's temp file, a lease). Opening or
// locking failures count as held: a file in doubt is left alone.
bool HeldByLiveWriter(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno != ENOENT;
  bool held = ::flock(fd, LOCK_SH | LOCK_NB) != 0;
  ::close(fd);
  return held;
}

// Removes (or counts) the regular files of `dir` that `stale` says may go.
Result<SweepReport> Sweep(
    const fs::path& dir, bool dry_run,
    const std::function<bool(const fs::directory_entry&, const struct stat&)>& stale) {
  SweepReport report;
  std::error_code error;
  for (fs::directory_iterator it(dir, error), end; !error && it != end; it.increment(error)) {
    struct stat info {};
    if (::lstat(it->path().c_str(), &info) != 0 || !S_ISREG(info.st_mode)) continue;
    if (!stale(*it, info)) continue;
    if (!dry_run && ::unlink(it->path().c_str()) != 0) {
      if (errno == ENOENT) continue;
      return ErrnoStatus("cannot remove " + it->path().string(), errno);
    }
    ++report.files;
    report.bytes += static_cast<uint64_t>(info.st_size);
  }
  if (error) return IoError("cannot list " + dir.string() + ": " + error.message());
  return report;
}

}  // namespace

Status LocalBlobStore::ForEach(const std::function<Status(const BlobListing& blob)>& blob) {
  fs::path root = data_dir_ / "blobs" / "sha256";
  std::error_code error;
  for (fs::recursive_directory_iterator it(root, error), end; !error && it != end;
       it.increment(error)) {
    std::string name = it->path().filename().string();
    // Only files at their digest's address are blobs; anything else there is not the store's.
    if (it.depth() != 2 || !CheckDigest(name).ok() || BlobPath(name) != it->path()) continue;
    struct stat info {};
    if (::lstat(it->path().c_str(), &info) != 0 || !S_ISREG(info.st_mode)) continue;
    HM_RETURN_IF_ERROR(blob({name, static_cast<uint64_t>(info.st_size), Millis(info.st_mtim)}));
  }
  if (error) return IoError("cannot list " + root.string() + ": " + error.message());
  return Status::Ok();
}

Status LocalBlobStore::Delete(const std::string& sha256) {
  HM_RETURN_IF_ERROR(CheckDigest(sha256));
  fs::path path = BlobPath(sha256);
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return NotFound("blob " + sha256 + " is not in the store");
    return ErrnoStatus("cannot delete " + path.string(), errno);
  }
  return Status::Ok();
}

Status LocalBlobStore::Touch(const std::string& sha256) {
  HM_RETURN_IF_ERROR(CheckDigest(sha256));
  std::string path = BlobFileName(sha256);
  if (::utimensat(AT_FDCWD, path.c_str(), nullptr, 0) != 0) {
    if (errno == ENOENT) return NotFound("blob " + sha256 + " is not in the store");
    return ErrnoStatus("cannot touch " + path, errno);
  }
  return Status::Ok();
}

Result<bool> LocalBlobStore::DeleteUnusedSince(const std::string& sha256, int64_t unused_since_ms) {
  struct stat info {};
  HM_RETURN_IF_ERROR(StatBlob(sha256, &info));
  if (Millis(info.st_mtim) >= unused_since_ms) return false;
  HM_RETURN_IF_ERROR(Delete(sha256));
  return true;
}

Result<std::unique_ptr<WriteLease>> LocalBlobStore::LeaseWrites() {
  static std::atomic<uint64_t> sequence{0};
  thread_local std::mt19937_64 random(std::random_device{}());
  std::string unique = std::to_string(::getpid()) + "-" + std::to_string(sequence++) + "-" +
                       std::to_string(random());
  fs::path leases = data_dir_ / local_layout::kLeaseDirectory;
  // Locked before it gets its name: a lease file is never seen unlocked while its job lives.
  fs::path staging = leases / (std::string(local_layout::kStagingLeasePrefix) + unique);
  fs::path path = leases / (std::string(local_layout::kLeasePrefix) + unique);
  int fd = ::open(staging.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoStatus("cannot create " + staging.string(), errno);
  if (::flock(fd, LOCK_EX) != 0 || ::rename(staging.c_str(), path.c_str()) != 0) {
    Status failed = ErrnoStatus("cannot record a write lease in " + leases.string(), errno);
    ::unlink(staging.c_str());
    ::close(fd);
    return failed;
  }
  return std::unique_ptr<WriteLease>(new LocalWriteLease(fd, path));
}

Result<std::optional<int64_t>> LocalBlobStore::OldestLease() {
  std::optional<int64_t> oldest;
  fs::path leases = data_dir_ / local_layout::kLeaseDirectory;
  std::error_code error;
  for (fs::directory_iterator it(leases, error), end; !error && it != end; it.increment(error)) {
    if (!it->path().filename().string().starts_with(local_layout::kLeasePrefix)) continue;
    struct stat info {};
    if (::stat(it->path().c_str(), &info) != 0) continue;  // released meanwhile
    if (!HeldByLiveWriter(it->path())) {
      ::unlink(it->path().c_str());
      continue;
    }
    int64_t began = Millis(info.st_mtim);
    if (!oldest || began < *oldest) oldest = began;
  }
  if (error) return IoError("cannot list " + leases.string() + ": " + error.message());
  return oldest;
}

Result<SweepReport> LocalBlobStore::SweepTemporaries(int64_t unused_since_ms, bool dry_run) {
  return Sweep(data_dir_ / "tmp", dry_run,
               [&](const fs::directory_entry& entry, const struct stat& info) {
                 return Millis(info.st_mtim) < unused_since_ms && !HeldByLiveWriter(entry.path());
               });
}

Result<SweepReport> LocalBlobStore::SweepQuarantine(int64_t quarantined_before_ms, bool dry_run) {
  // Quarantine renames keep the blob's own times: the move is dated by the name's suffix
  // (`<sha256>.<unix ms>`), else by the inode's change time, which the rename set.
  return Sweep(data_dir_ / "quarantine", dry_run,
               [&](const fs::directory_entry& entry, const struct stat& info) {
                 std::string name = entry.path().filename().string();
                 size_t dot = name.rfind('.');
                 int64_t moved = Millis(info.st_ctim);
                 if (dot != std::string::npos &&
                     name.find_first_not_of("0123456789", dot + 1) == std::string::npos &&
                     dot + 1 < name.size() && name.size() - dot - 1 <= 15) {
                   moved = std::stoll(name.substr(dot + 1));
                 }
                 return moved < quarantined_before_ms;
               });
}

}  // namespace hubmirror::storage
