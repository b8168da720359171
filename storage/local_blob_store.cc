#include "storage/local_blob_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include "common/digest.h"

namespace hubmirror::storage {
namespace fs = std::filesystem;
namespace {

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

Status CheckDigestArgument(const std::string& sha256) {
  if (!IsSha256Hex(sha256)) {
    return InvalidArgument("not a SHA-256 digest (64 lowercase hex digits): '" +
                           sha256.substr(0, 80) + "'");
  }
  return Status::Ok();
}

class LocalBlobWriter : public BlobWriter {
 public:
  LocalBlobWriter(const LocalBlobStore* store, BlobExpectation expectation, int fd,
                  fs::path temp_path)
      : store_(store),
        expectation_(std::move(expectation)),
        fd_(fd),
        temp_path_(std::move(temp_path)),
        hasher_(expectation_.size) {}

  ~LocalBlobWriter() override {
    if (fd_ >= 0) ::close(fd_);
    if (!temp_path_.empty()) ::unlink(temp_path_.c_str());
  }

  Status Append(const void* data, size_t size) override {
    if (fd_ < 0) return Internal("blob writer used after Commit");
    if (written_ + size > expectation_.size) {
      return Corrupt("blob larger than declared: expected " + std::to_string(expectation_.size) +
                     " bytes, got at least " + std::to_string(written_ + size));
    }
    hasher_.Update(data, size);
    auto bytes = static_cast<const char*>(data);
    size_t left = size;
    while (left > 0) {
      ssize_t n = ::write(fd_, bytes, left);
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus("cannot write", temp_path_);
      }
      bytes += n;
      left -= static_cast<size_t>(n);
    }
    written_ += size;
    return Status::Ok();
  }

  Result<StoredBlob> Commit() override {
    if (fd_ < 0) return Internal("blob writer committed twice");
    if (written_ != expectation_.size) {
      return Corrupt("blob size mismatch: expected " + std::to_string(expectation_.size) +
                     " bytes, got " + std::to_string(written_));
    }
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
    ::close(fd_);
    fd_ = -1;
    fs::create_directories(target.parent_path(), ec);
    if (ec) return IoError("cannot create " + target.parent_path().string() + ": " + ec.message());
    // rename() replaces atomically, so a racing writer of the same content is harmless.
    if (::rename(temp_path_.c_str(), target.c_str()) != 0) {
      return ErrnoStatus("cannot publish blob to", target);
    }
    temp_path_.clear();
    HM_RETURN_IF_ERROR(FsyncDirectory(target.parent_path()));
    return blob;
  }

 private:
  const LocalBlobStore* store_;
  BlobExpectation expectation_;
  int fd_;
  fs::path temp_path_;
  ContentHasher hasher_;
  uint64_t written_ = 0;
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
  std::string pattern = (data_dir_ / "tmp" / "blob-XXXXXX").string();
  int fd = ::mkostemp(pattern.data(), O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("cannot create temporary file in", data_dir_ / "tmp");
  return std::unique_ptr<BlobWriter>(new LocalBlobWriter(this, expectation, fd, pattern));
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

}  // namespace hubmirror::storage
