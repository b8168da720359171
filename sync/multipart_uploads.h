#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "api/publisher.h"
#include "storage/blob_store.h"

namespace hubmirror::sync {

// The multipart LFS uploads in progress (hub-protocol §12.6.4): one object's bytes sent as
// numbered parts, in any order and several at once (the JavaScript client sends five in
// parallel). The object is streamed into one blob writer in order, hashed once on the way: the
// part that comes next is written straight to it, and a part that arrives early waits in a
// writer of its own (a temporary file of the store) until the parts before it are in. So the
// completion only checks and publishes, whatever the size. A part whose transfer breaks while it
// was written straight has left a partial part in the object: the upload fails and must begin
// again; an early part that breaks may just be sent again. Uploads live in memory: a restart or
// a day without a part forgets them, and their temporary files are garbage for gc. Thread-safe.
class MultipartUploads {
 public:
  using Key = std::pair<std::string, std::string>;  // (uploader, sha256)

  explicit MultipartUploads(storage::BlobStore& store) : store_(store) {}

  // Starts the upload of `size` bytes in parts of `part_bytes` (the last may be shorter),
  // forgetting any earlier upload of the same key. kInvalidArgument for a part size of 0.
  Status Begin(const Key& key, uint64_t size, uint64_t part_bytes);
  // Where part `part` (from 1) goes. A part received already takes its bytes again and drops
  // them. kNotFound when no upload of the key was begun (or it was forgotten),
  // kInvalidArgument for a part out of range, kFailedPrecondition while the same part is being
  // received or after the upload failed.
  Result<std::unique_ptr<api::UploadSink>> Part(const Key& key, uint32_t part);
  // Verifies and publishes the whole object, then forgets the upload. kFailedPrecondition naming
  // the parts not received yet (or the part that failed), kNotFound as above; kCorrupt when the
  // bytes are not the announced content (the upload is forgotten then).
  Result<storage::StoredBlob> Complete(const Key& key);

  struct Upload;  // one object's state; defined in the .cc

 private:
  // The upload of `key`; kNotFound when none is under way.
  Result<std::shared_ptr<Upload>> Find(const Key& key);

  storage::BlobStore& store_;
  std::mutex mutex_;  // guards uploads_ (each Upload has its own lock)
  std::map<Key, std::shared_ptr<Upload>> uploads_;
};

}  // namespace hubmirror::sync
