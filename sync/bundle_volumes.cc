#include "sync/bundle_volumes.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include "common/files.h"

namespace hubmirror::sync {
namespace {

namespace fs = std::filesystem;

constexpr size_t kCopyBytes = 1 << 20;
constexpr const char* kRepairHint = " (hubmirror verify, then sync, repairs it)";

}  // namespace

std::string VolumeName(size_t index) {
  char name[32];
  std::snprintf(name, sizeof name, "volume-%05zu.dat", index + 1);
  return name;
}

uint64_t VolumeCount(uint64_t bytes, uint64_t volume_size) {
  // Not (bytes + volume_size - 1) / volume_size: that overflows for streams near 2^64.
  return bytes / volume_size + (bytes % volume_size != 0 ? 1 : 0);
}

VolumeWriter::VolumeWriter(storage::BlobStore& store, fs::path dir,
                           const std::vector<BundleBlob>& blobs, uint64_t volume_size)
    : store_(store),
      dir_(std::move(dir)),
      blobs_(blobs),
      volume_size_(volume_size),
      buffer_(kCopyBytes) {
  if (!blobs_.empty()) bytes_ = blobs_.back().offset + blobs_.back().size;
}

Status VolumeWriter::Write(size_t index, MirrorObserver* observer) {
  uint64_t begin = index * volume_size_;
  uint64_t end = std::min(bytes_, begin + volume_size_);
  fs::path path = dir_ / VolumeName(index);
  AtomicWriteOptions options;
  options.temp_suffix = ".part";
  auto file = AtomicFile::Create(path, options);
  if (!file.ok()) return file.status();
  while (next_blob_ < blobs_.size() &&
         blobs_[next_blob_].offset + blobs_[next_blob_].size <= begin) {
    ++next_blob_;
  }
  for (size_t b = next_blob_; b < blobs_.size() && blobs_[b].offset < end; ++b) {
    const BundleBlob& blob = blobs_[b];
    auto content = store_.Open(blob.sha256);
    if (!content.ok()) {
      return Status(content.status().code(),
                    "blob " + blob.sha256 + ": " + content.status().message() + kRepairHint);
    }
    uint64_t from = std::max(begin, blob.offset) - blob.offset;
    uint64_t to = std::min(end, blob.offset + blob.size) - blob.offset;
    while (from < to) {
      size_t take = static_cast<size_t>(std::min<uint64_t>(to - from, buffer_.size()));
      ssize_t got = ::pread(content->fd(), buffer_.data(), take, static_cast<off_t>(from));
      if (got < 0) return ErrnoStatus("cannot read blob " + blob.sha256, errno);
      if (got == 0) {
        return Corrupt("blob " + blob.sha256 + " is shorter than its " + std::to_string(blob.size) +
                       " bytes" + kRepairHint);
      }
      Status written = file->Write(std::string_view(buffer_.data(), static_cast<size_t>(got)));
      if (!written.ok()) {
        return Status(written.code(), "cannot copy blob " + blob.sha256 + ": " + written.message());
      }
      from += static_cast<uint64_t>(got);
      if (observer != nullptr) {
        observer->OnBytes(path.filename(), end - begin, static_cast<uint64_t>(got));
      }
    }
  }
  HM_RETURN_IF_ERROR(file->Commit());
  if (observer != nullptr) observer->OnFileStored(path.filename(), end - begin, true);
  return Status::Ok();
}

VolumeReader::VolumeReader(fs::path dir, uint64_t volume_size)
    : dir_(std::move(dir)), volume_size_(volume_size), buffer_(kCopyBytes) {}

VolumeReader::~VolumeReader() {
  if (fd_ >= 0) ::close(fd_);
}

Status VolumeReader::Read(uint64_t offset, char* data, size_t length) {
  while (length > 0) {
    size_t volume = static_cast<size_t>(offset / volume_size_);
    uint64_t within = offset % volume_size_;
    if (volume != open_volume_ || fd_ < 0) {
      if (fd_ >= 0) ::close(fd_);
      fd_ = ::open((dir_ / VolumeName(volume)).c_str(), O_RDONLY | O_CLOEXEC);
      open_volume_ = volume;
      if (fd_ < 0) return Corrupt("the bundle's " + VolumeName(volume) + " is missing");
    }
    size_t take = static_cast<size_t>(std::min<uint64_t>(length, volume_size_ - within));
    ssize_t got = ::pread(fd_, data, take, static_cast<off_t>(within));
    if (got <= 0) return Corrupt("the bundle's " + VolumeName(volume) + " is short");
    data += got;
    length -= static_cast<size_t>(got);
    offset += static_cast<uint64_t>(got);
  }
  return Status::Ok();
}

Status VolumeReader::Copy(const BundleBlob& blob, storage::BlobWriter& writer,
                          MirrorObserver* observer) {
  for (uint64_t done = 0; done < blob.size;) {
    size_t take = static_cast<size_t>(std::min<uint64_t>(blob.size - done, buffer_.size()));
    HM_RETURN_IF_ERROR(Read(blob.offset + done, buffer_.data(), take));
    HM_RETURN_IF_ERROR(writer.Append(buffer_.data(), take));
    done += take;
    if (observer != nullptr) observer->OnBytes(blob.sha256, blob.size, take);
  }
  return Status::Ok();
}

Status CheckVolumes(const fs::path& dir, uint64_t volume_size, uint64_t bytes) {
  uint64_t volumes = VolumeCount(bytes, volume_size);
  for (uint64_t volume = 0; volume < volumes; ++volume) {
    std::string name = VolumeName(static_cast<size_t>(volume));
    std::error_code ec;
    uint64_t expected = std::min(volume_size, bytes - volume * volume_size);
    uint64_t actual = fs::file_size(dir / name, ec);
    if (ec) return Corrupt("the bundle's " + name + " is missing");
    if (actual != expected) {
      return Corrupt("the bundle's " + name + " has " + std::to_string(actual) +
                     " bytes, expected " + std::to_string(expected));
    }
  }
  return Status::Ok();
}

}  // namespace hubmirror::sync
