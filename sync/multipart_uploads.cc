#include "sync/multipart_uploads.h"

#include <atomic>
#include <set>
#include <vector>

#include "common/clock.h"
#include "common/files.h"

namespace hubmirror::sync {
namespace {

// An upload that no part touched for this long is forgotten when the next one begins.
constexpr int64_t kForgetAfterMs = int64_t{24} * 3600 * 1000;
// Early parts are copied into the object in reads of this size.
constexpr size_t kCopyBytes = size_t{1} << 20;

}  // namespace

struct MultipartUploads::Upload {
  std::string sha256;
  uint64_t size = 0;
  uint64_t part_bytes = 0;
  uint32_t parts = 0;
  std::atomic<int64_t> touched_ms{0};

  std::mutex mutex;                             // guards everything below
  std::unique_ptr<storage::WriteLease> lease;   // keeps gc from the parts until the upload ends
  std::unique_ptr<storage::BlobWriter> writer;  // the object, in order
  uint32_t next = 1;                            // the first part not yet in `writer`
  bool writing = false;          // one request appends to `writer` now (a part, or early parts)
  std::string failure;           // why the upload cannot complete; empty while it can
  std::set<uint32_t> receiving;  // parts whose transfer is under way
  std::map<uint32_t, std::unique_ptr<storage::BlobWriter>> early;  // received, waiting their turn

  uint64_t PartSize(uint32_t part) const {
    return part < parts ? part_bytes : size - uint64_t{parts - 1} * part_bytes;
  }
  std::string Name(uint32_t part) const {
    return "part " + std::to_string(part) + " of " + std::to_string(parts) + " of " + sha256;
  }
};

namespace {

using Upload = MultipartUploads::Upload;

// Appends what `part` holds to `object` (every byte: the writer is flushed first).
Status CopyWritten(storage::BlobWriter& part, storage::BlobWriter& object) {
  HM_RETURN_IF_ERROR(part.Flush());
  auto file = part.OpenWritten();
  if (!file.ok()) return file.status();
  uint64_t length = part.readable_bytes();
  std::vector<char> buffer(kCopyBytes);
  for (uint64_t offset = 0; offset < length;) {
    size_t take = static_cast<size_t>(std::min<uint64_t>(buffer.size(), length - offset));
    HM_RETURN_IF_ERROR(ReadFullyAt(file->fd(), offset, buffer.data(), take));
    HM_RETURN_IF_ERROR(object.Append(buffer.data(), take));
    offset += take;
  }
  return Status::Ok();
}

// Appends the early parts that come next, in order, then gives up the writer. The caller holds
// it (`writing`) and not the lock.
void AppendEarlyParts(Upload& upload) {
  std::unique_lock lock(upload.mutex);
  while (upload.failure.empty()) {
    auto found = upload.early.find(upload.next);
    if (found == upload.early.end()) break;
    std::unique_ptr<storage::BlobWriter> part = std::move(found->second);
    upload.early.erase(found);
    lock.unlock();
    Status copied = CopyWritten(*part, *upload.writer);
    lock.lock();
    if (!copied.ok()) {
      upload.failure = upload.Name(upload.next) + " could not be added: " + copied.message();
      break;
    }
    ++upload.next;
  }
  upload.writing = false;
}

// Counts a part's bytes against its announced size.
Status CountBytes(const Upload& upload, uint32_t part, uint64_t* received, size_t size) {
  if (*received + size > upload.PartSize(part)) {
    return Corrupt(upload.Name(part) + " must be " + std::to_string(upload.PartSize(part)) +
                   " bytes; more arrived");
  }
  *received += size;
  return Status::Ok();
}

Status CheckComplete(const Upload& upload, uint32_t part, uint64_t received) {
  if (received == upload.PartSize(part)) return Status::Ok();
  return Corrupt(upload.Name(part) + " must be " + std::to_string(upload.PartSize(part)) +
                 " bytes; " + std::to_string(received) + " arrived");
}

// The part that comes next, written straight into the object. If it breaks off, the object
// holds a partial part: the upload fails.
class NextPart : public api::UploadSink {
 public:
  NextPart(std::shared_ptr<Upload> upload, uint32_t part)
      : upload_(std::move(upload)), part_(part) {}
  ~NextPart() override {
    if (finished_) return;
    std::lock_guard lock(upload_->mutex);
    upload_->receiving.erase(part_);
    upload_->writing = false;
    if (upload_->failure.empty()) {
      upload_->failure = upload_->Name(part_) + " broke off after " + std::to_string(received_) +
                         " bytes: upload the object again";
    }
  }

  Status Append(const char* data, size_t size) override {
    HM_RETURN_IF_ERROR(CountBytes(*upload_, part_, &received_, size));
    return upload_->writer->Append(data, size);
  }
  Status Finish() override {
    HM_RETURN_IF_ERROR(CheckComplete(*upload_, part_, received_));
    {
      std::lock_guard lock(upload_->mutex);
      upload_->receiving.erase(part_);
      ++upload_->next;
    }
    finished_ = true;
    AppendEarlyParts(*upload_);
    return Status::Ok();
  }

 private:
  std::shared_ptr<Upload> upload_;
  uint32_t part_;
  uint64_t received_ = 0;
  bool finished_ = false;
};

// A part that arrived before its turn: kept in a writer of its own until then. If it breaks
// off, it may be sent again.
class EarlyPart : public api::UploadSink {
 public:
  EarlyPart(std::shared_ptr<Upload> upload, uint32_t part,
            std::unique_ptr<storage::BlobWriter> writer)
      : upload_(std::move(upload)), part_(part), writer_(std::move(writer)) {}
  ~EarlyPart() override {
    if (!finished_) {
      std::lock_guard lock(upload_->mutex);
      upload_->receiving.erase(part_);
    }
  }

  Status Append(const char* data, size_t size) override {
    HM_RETURN_IF_ERROR(CountBytes(*upload_, part_, &received_, size));
    return writer_->Append(data, size);
  }
  Status Finish() override {
    HM_RETURN_IF_ERROR(CheckComplete(*upload_, part_, received_));
    bool append_now = false;
    {
      std::lock_guard lock(upload_->mutex);
      upload_->receiving.erase(part_);
      finished_ = true;
      if (!upload_->failure.empty()) return {StatusCode::kFailedPrecondition, upload_->failure};
      upload_->early[part_] = std::move(writer_);
      append_now = !upload_->writing && part_ == upload_->next;
      if (append_now) upload_->writing = true;
    }
    if (append_now) AppendEarlyParts(*upload_);
    return Status::Ok();
  }

 private:
  std::shared_ptr<Upload> upload_;
  uint32_t part_;
  std::unique_ptr<storage::BlobWriter> writer_;
  uint64_t received_ = 0;
  bool finished_ = false;
};

// A part received already, sent again (a client's retry): its bytes are read and dropped.
class RepeatedPart : public api::UploadSink {
 public:
  Status Append(const char*, size_t) override { return Status::Ok(); }
  Status Finish() override { return Status::Ok(); }
};

}  // namespace

Status MultipartUploads::Begin(const Key& key, uint64_t size, uint64_t part_bytes) {
  if (part_bytes == 0) return InvalidArgument("a multipart upload needs parts of 1 byte or more");
  auto upload = std::make_shared<Upload>();
  upload->sha256 = key.second;
  upload->size = size;
  upload->part_bytes = part_bytes;
  upload->parts = size == 0 ? 1 : static_cast<uint32_t>((size + part_bytes - 1) / part_bytes);
  upload->touched_ms = NowUnixMillis();
  auto lease = store_.LeaseWrites();
  if (!lease.ok()) return lease.status();
  storage::BlobExpectation expectation{size, key.second, ""};
  expectation.compute_git_sha1 = false;
  auto writer = store_.NewWriter(expectation);
  if (!writer.ok()) return writer.status();
  upload->lease = std::move(lease.value());
  upload->writer = std::move(writer.value());
  std::lock_guard lock(mutex_);
  int64_t now = NowUnixMillis();
  for (auto it = uploads_.begin(); it != uploads_.end();) {
    it = now - it->second->touched_ms > kForgetAfterMs ? uploads_.erase(it) : std::next(it);
  }
  uploads_[key] = std::move(upload);
  return Status::Ok();
}

Result<std::shared_ptr<MultipartUploads::Upload>> MultipartUploads::Find(const Key& key) {
  std::lock_guard lock(mutex_);
  auto found = uploads_.find(key);
  if (found == uploads_.end()) {
    return NotFound("no multipart upload of " + key.second +
                    " is under way (forgotten after a day or a restart): upload it again");
  }
  return found->second;
}

Result<std::unique_ptr<api::UploadSink>> MultipartUploads::Part(const Key& key, uint32_t part) {
  auto found = Find(key);
  if (!found.ok()) return found.status();
  std::shared_ptr<Upload> upload = std::move(found.value());
  upload->touched_ms = NowUnixMillis();
  std::unique_lock lock(upload->mutex);
  if (!upload->failure.empty()) return Status(StatusCode::kFailedPrecondition, upload->failure);
  if (part == 0 || part > upload->parts) {
    return InvalidArgument("part " + std::to_string(part) + " is not among the " +
                           std::to_string(upload->parts) + " parts of " + key.second);
  }
  if (part < upload->next || upload->early.count(part) > 0) {
    return std::unique_ptr<api::UploadSink>(std::make_unique<RepeatedPart>());
  }
  if (upload->receiving.count(part) > 0) {
    return Status(StatusCode::kFailedPrecondition, upload->Name(part) + " is being received");
  }
  upload->receiving.insert(part);
  if (part == upload->next && !upload->writing) {
    upload->writing = true;
    return std::unique_ptr<api::UploadSink>(std::make_unique<NextPart>(upload, part));
  }
  lock.unlock();
  storage::BlobExpectation expectation{upload->PartSize(part), "", ""};
  expectation.compute_git_sha1 = false;
  auto writer = store_.NewWriter(expectation);
  if (!writer.ok()) {
    std::lock_guard relock(upload->mutex);
    upload->receiving.erase(part);
    return writer.status();
  }
  return std::unique_ptr<api::UploadSink>(
      std::make_unique<EarlyPart>(upload, part, std::move(writer.value())));
}

Result<storage::StoredBlob> MultipartUploads::Complete(const Key& key) {
  auto found = Find(key);
  if (!found.ok()) return found.status();
  std::shared_ptr<Upload> upload = std::move(found.value());
  std::unique_ptr<storage::BlobWriter> writer;
  std::unique_ptr<storage::WriteLease> lease;
  {
    std::lock_guard lock(upload->mutex);
    if (!upload->failure.empty()) return Status(StatusCode::kFailedPrecondition, upload->failure);
    if (upload->next <= upload->parts || upload->writing) {
      std::string missing;
      for (uint32_t part = upload->next; part <= upload->parts; ++part) {
        if (upload->early.count(part) > 0) continue;
        missing += (missing.empty() ? "" : ", ") + std::to_string(part);
      }
      return Status(StatusCode::kFailedPrecondition,
                    "the upload of " + key.second + " is missing parts " +
                        (missing.empty() ? "still being added" : missing) + " of " +
                        std::to_string(upload->parts));
    }
    writer = std::move(upload->writer);
    lease = std::move(upload->lease);
    upload->failure = "the upload of " + key.second + " was completed already";
  }
  {
    std::lock_guard lock(mutex_);
    auto entry = uploads_.find(key);
    if (entry != uploads_.end() && entry->second == upload) uploads_.erase(entry);
  }
  return writer->Commit();
}

}  // namespace hubmirror::sync
