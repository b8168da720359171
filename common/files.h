#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <string_view>

#include "common/status.h"

namespace hubmirror {

// The whole content of a (small) file: a card, a manifest, a key. kNotFound when it does not
// exist, kIoError when it cannot be read.
Result<std::string> ReadTextFile(const std::filesystem::path& path);

// Reads exactly `size` bytes of `fd` from `offset` (short reads and EINTR retried); kIoError
// when the file ends first or a read fails.
Status ReadFullyAt(int fd, uint64_t offset, char* data, size_t size);
// Writes all `size` bytes at `offset` (short writes and EINTR retried); errors as ErrnoStatus.
Status WriteFullyAt(int fd, uint64_t offset, const char* data, size_t size);

// Makes the entries of `dir` durable (a file created, renamed or linked there). Errors as
// ErrnoStatus.
Status FsyncDirectory(const std::filesystem::path& dir);

struct AtomicWriteOptions {
  mode_t mode = 0644;  // of the new file, less the umask
  // The temporary file is the final path with this suffix, in the same directory (so the rename
  // cannot cross file systems). Writers that may race on one path pick a suffix each.
  std::string temp_suffix = ".tmp";
  // When false, Commit links the file into place instead of renaming it: kAlreadyExists, and
  // the existing file unchanged, when the path exists.
  bool replace = true;
};

// A file written under a temporary name and moved into place whole by Commit (fsync, rename,
// fsync of the directory): readers, and the disk after a crash, hold the old file or the new
// one, never a part. Destroyed without a successful Commit, it removes its temporary file.
// Movable, not copyable; used by one thread at a time.
class AtomicFile {
 public:
  // Creates (or truncates) the temporary file. Errors as ErrnoStatus, naming it.
  static Result<AtomicFile> Create(const std::filesystem::path& path,
                                   const AtomicWriteOptions& options = {});
  AtomicFile(AtomicFile&& other) noexcept;
  AtomicFile& operator=(AtomicFile&& other) noexcept;
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile();

  const std::filesystem::path& temp_path() const { return temp_path_; }
  // Appends all of `data` (short writes and EINTR retried). Errors as ErrnoStatus.
  Status Write(std::string_view data);
  // Makes the content durable and moves it to the final path. Errors as ErrnoStatus; the
  // temporary file is removed on failure.
  Status Commit();

 private:
  AtomicFile(int fd, std::filesystem::path path, std::filesystem::path temp_path, bool replace);
  void Abandon();

  int fd_ = -1;
  std::filesystem::path path_;
  std::filesystem::path temp_path_;  // empty once committed or abandoned
  bool replace_ = true;
};

// Replaces (or creates) `path` with `content` through an AtomicFile.
Status WriteFileAtomically(const std::filesystem::path& path, std::string_view content,
                           const AtomicWriteOptions& options = {});

}  // namespace hubmirror
