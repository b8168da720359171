#include "common/files.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <utility>

namespace hubmirror {

namespace fs = std::filesystem;

Result<std::string> ReadTextFile(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    return Status(StatusCode::kNotFound, path.string() + " does not exist");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return IoError("cannot read " + path.string());
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) return IoError("cannot read " + path.string());
  return contents.str();
}

Status FsyncDirectory(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("cannot open directory " + dir.string(), errno);
  int rc = ::fsync(fd);
  int error = errno;
  ::close(fd);
  if (rc != 0) return ErrnoStatus("cannot fsync directory " + dir.string(), error);
  return Status::Ok();
}

Result<AtomicFile> AtomicFile::Create(const fs::path& path, const AtomicWriteOptions& options) {
  fs::path temp_path = path.string() + options.temp_suffix;
  int fd = ::open(temp_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, options.mode);
  if (fd < 0) return ErrnoStatus("cannot create " + temp_path.string(), errno);
  return AtomicFile(fd, path, std::move(temp_path), options.replace);
}

AtomicFile::AtomicFile(int fd, fs::path path, fs::path temp_path, bool replace)
    : fd_(fd), path_(std::move(path)), temp_path_(std::move(temp_path)), replace_(replace) {}

AtomicFile::AtomicFile(AtomicFile&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      path_(std::move(other.path_)),
      temp_path_(std::exchange(other.temp_path_, {})),
      replace_(other.replace_) {}

AtomicFile& AtomicFile::operator=(AtomicFile&& other) noexcept {
  if (this != &other) {
    Abandon();
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
    temp_path_ = std::exchange(other.temp_path_, {});
    replace_ = other.replace_;
  }
  return *this;
}

AtomicFile::~AtomicFile() { Abandon(); }

void AtomicFile::Abandon() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (!temp_path_.empty()) ::unlink(temp_path_.c_str());
  temp_path_.clear();
}

Status AtomicFile::Write(std::string_view data) {
  if (fd_ < 0) return Internal("write to " + path_.string() + " after its commit");
  while (!data.empty()) {
    ssize_t n = ::write(fd_, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus("cannot write " + temp_path_.string(), errno);
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

Status AtomicFile::Commit() {
  if (fd_ < 0) return Internal(path_.string() + " committed twice");
  Status status;
  if (::fsync(fd_) != 0) status = ErrnoStatus("cannot fsync " + temp_path_.string(), errno);
  // close() reports the write errors some file systems (NFS) defer until then.
  if (::close(std::exchange(fd_, -1)) != 0 && status.ok()) {
    status = ErrnoStatus("cannot write " + temp_path_.string(), errno);
  }
  if (status.ok() && replace_ && ::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    status = ErrnoStatus("cannot rename " + temp_path_.string() + " to " + path_.string(), errno);
  }
  if (status.ok() && !replace_ && ::link(temp_path_.c_str(), path_.c_str()) != 0) {
    status = ErrnoStatus("cannot create " + path_.string(), errno);
  }
  if (status.ok() && replace_) temp_path_.clear();  // renamed: the name is no longer ours
  Abandon();
  HM_RETURN_IF_ERROR(status);
  fs::path dir = path_.parent_path();
  return FsyncDirectory(dir.empty() ? fs::path(".") : dir);
}

Status WriteFileAtomically(const fs::path& path, std::string_view content,
                           const AtomicWriteOptions& options) {
  auto file = AtomicFile::Create(path, options);
  if (!file.ok()) return file.status();
  HM_RETURN_IF_ERROR(file->Write(content));
  return file->Commit();
}

Status ReadFullyAt(int fd, uint64_t offset, char* data, size_t size) {
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::pread(fd, data + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus("cannot read", errno);
    if (n == 0)
      return IoError("short read: the file ended before " + std::to_string(size) + " bytes");
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

Status WriteFullyAt(int fd, uint64_t offset, const char* data, size_t size) {
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::pwrite(fd, data + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus("cannot write", errno);
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

}  // namespace hubmirror
