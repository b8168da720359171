#include "tests/fakes/faulty_blob_store.h"

namespace hubmirror::testing {
namespace {

// Forwards to a real writer, failing Append past a byte count or Commit when told to.
class FaultyWriter : public storage::BlobWriter {
 public:
  FaultyWriter(std::unique_ptr<storage::BlobWriter> inner, std::optional<uint64_t> fail_after,
               Status append_status, std::optional<Status> commit_failure)
      : inner_(std::move(inner)),
        fail_after_(fail_after),
        append_status_(std::move(append_status)),
        commit_failure_(std::move(commit_failure)),
        written_(inner_->resumed_bytes()) {}

  uint64_t resumed_bytes() const override { return inner_->resumed_bytes(); }
  Status Append(const void* data, size_t size) override {
    if (fail_after_ && written_ + size > *fail_after_) {
      size_t allowed = *fail_after_ > written_ ? *fail_after_ - written_ : 0;
      if (allowed > 0) HM_RETURN_IF_ERROR(inner_->Append(data, allowed));
      written_ += allowed;
      return append_status_;
    }
    written_ += size;
    return inner_->Append(data, size);
  }
  Result<storage::BlobFile> OpenWritten() override { return inner_->OpenWritten(); }
  uint64_t readable_bytes() const override { return inner_->readable_bytes(); }
  Status Flush() override { return inner_->Flush(); }
  Result<storage::StoredBlob> Commit() override {
    if (commit_failure_) return *commit_failure_;
    return inner_->Commit();
  }

 private:
  std::unique_ptr<storage::BlobWriter> inner_;
  std::optional<uint64_t> fail_after_;
  Status append_status_;
  std::optional<Status> commit_failure_;
  uint64_t written_;
};

}  // namespace

void FaultyBlobStore::FailAppendsAfter(uint64_t after_bytes, Status status, int count) {
  std::lock_guard lock(mutex_);
  append_failures_ = count;
  append_after_bytes_ = after_bytes;
  append_status_ = std::move(status);
}

void FaultyBlobStore::FailCommits(Status status, int count) {
  std::lock_guard lock(mutex_);
  commit_failures_ = count;
  commit_status_ = std::move(status);
}

void FaultyBlobStore::FailLookups(Status status, int count) {
  std::lock_guard lock(mutex_);
  lookup_failures_ = count;
  lookup_status_ = std::move(status);
}

std::optional<Status> FaultyBlobStore::Take(int* count, const Status* status) {
  std::lock_guard lock(mutex_);
  if (*count <= 0) return std::nullopt;
  --*count;
  return *status;
}

Result<std::unique_ptr<storage::BlobWriter>> FaultyBlobStore::NewWriter(
    const storage::BlobExpectation& expectation) {
  ++writers_opened_;
  auto writer = inner_.NewWriter(expectation);
  if (!writer.ok()) return writer.status();
  std::optional<uint64_t> fail_after;
  Status append_status;
  if (Take(&append_failures_, &append_status_)) {
    std::lock_guard lock(mutex_);
    fail_after = append_after_bytes_;
    append_status = append_status_;
  }
  std::optional<Status> commit_failure = Take(&commit_failures_, &commit_status_);
  return std::unique_ptr<storage::BlobWriter>(new FaultyWriter(
      std::move(writer.value()), fail_after, append_status, std::move(commit_failure)));
}

Result<bool> FaultyBlobStore::Contains(const std::string& sha256) {
  ++lookups_;
  if (auto failure = Take(&lookup_failures_, &lookup_status_)) return *failure;
  return inner_.Contains(sha256);
}

Result<std::vector<bool>> FaultyBlobStore::ContainsEach(const std::vector<std::string>& sha256s) {
  ++lookups_;
  if (auto failure = Take(&lookup_failures_, &lookup_status_)) return *failure;
  return inner_.ContainsEach(sha256s);
}

}  // namespace hubmirror::testing
