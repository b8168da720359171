#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "common/status.h"
#include "storage/blob_store.h"
#include "sync/bundle_format.h"
#include "sync/mirror_job.h"

namespace hubmirror::sync {

// The volumes of a bundle: one stream of the carried blobs, end to end in the order of
// bundle.json's "blobs", cut into files of `volume_size` bytes (the last one shorter) named
// volume-00001.dat, volume-00002.dat, ... A blob may continue in the next volume.

// The name of the volume at `index` (from 0).
std::string VolumeName(size_t index);

// How many volumes a stream of `bytes` fills.
uint64_t VolumeCount(uint64_t bytes, uint64_t volume_size);

// Writes the volumes of one stream, reading the blobs from a store, each volume under a
// temporary name (NAME.part) moved into place when complete. Not thread-safe.
class VolumeWriter {
 public:
  // `blobs` lie end to end from offset 0, in order of offset; they must outlive the writer.
  VolumeWriter(storage::BlobStore& store, std::filesystem::path dir,
               const std::vector<BundleBlob>& blobs, uint64_t volume_size);

  // Writes the volume at `index`; volumes are written in increasing order. `observer` sees its
  // bytes and the volume stored. Errors name the blob or the file; a blob the store cannot open
  // keeps its code (kNotFound, ...).
  Status Write(size_t index, MirrorObserver* observer);

 private:
  storage::BlobStore& store_;
  std::filesystem::path dir_;
  const std::vector<BundleBlob>& blobs_;
  uint64_t volume_size_;
  uint64_t bytes_ = 0;
  size_t next_blob_ = 0;  // the first blob that does not end before the next volume
  std::vector<char> buffer_;
};

// Reads bytes of the volumes' stream. Not thread-safe.
class VolumeReader {
 public:
  VolumeReader(std::filesystem::path dir, uint64_t volume_size);
  ~VolumeReader();
  VolumeReader(const VolumeReader&) = delete;
  VolumeReader& operator=(const VolumeReader&) = delete;

  // Reads `length` bytes at `offset` of the stream: kCorrupt when a volume is missing or short.
  Status Read(uint64_t offset, char* data, size_t length);
  // Copies the bytes of `blob` into `writer` (which verifies them on Commit); `observer` sees
  // them. Errors as Read's, or the writer's.
  Status Copy(const BundleBlob& blob, storage::BlobWriter& writer, MirrorObserver* observer);

 private:
  std::filesystem::path dir_;
  uint64_t volume_size_;
  size_t open_volume_ = SIZE_MAX;
  int fd_ = -1;
  std::vector<char> buffer_;
};

// Checks that `dir` holds every volume of a stream of `bytes`, each of its exact size: kCorrupt
// naming the first volume missing or of another size.
Status CheckVolumes(const std::filesystem::path& dir, uint64_t volume_size, uint64_t bytes);

}  // namespace hubmirror::sync
