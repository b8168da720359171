#include "storage/s3_blob_store.h"

#include <charconv>
#include <map>

#include "common/clock.h"
#include "common/digest.h"
#include "common/files.h"

namespace hubmirror::storage {
namespace {

// Blobs up to this size go in one PUT; larger ones in parts of this size, one in memory at once.
constexpr uint64_t kPartBytes = uint64_t{8} << 20;

std::string BlobKey(const std::string& sha256) { return "blobs/" + sha256; }
std::string TouchKey(const std::string& sha256) { return "touched/" + sha256; }

Status CheckDigest(const std::string& sha256) {
  if (IsSha256Hex(sha256)) return Status::Ok();
  return InvalidArgument("not a sha256: " + sha256.substr(0, 80));
}

// Calls `each` with every object under `prefix`, page by page.
Status ListAll(S3Client& client, const std::string& prefix,
               const std::function<Status(const S3Object&)>& each) {
  std::optional<std::string> token;
  do {
    auto page = client.List(prefix, token);
    if (!page.ok()) return page.status();
    for (const auto& object : page->objects) HM_RETURN_IF_ERROR(each(object));
    token = page->next_token;
  } while (token);
  return Status::Ok();
}

// Uploads `size` bytes of the open file under `key`: one PUT, or parts of kPartBytes that are
// completed only when all are in (and aborted otherwise). A multipart upload's id is in `live`
// while it runs, so that a sweep leaves it alone.
Status Upload(S3Client& client, const std::string& key, const BlobFile& file, uint64_t size,
              LiveUploads& live) {
  std::string buffer(static_cast<size_t>(std::min(size, kPartBytes)), '\0');
  if (size <= kPartBytes) {
    HM_RETURN_IF_ERROR(ReadFullyAt(file.fd(), 0, buffer.data(), buffer.size()));
    return client.Put(key, buffer);
  }
  auto upload = client.StartMultipart(key);
  if (!upload.ok()) return upload.status();
  LiveUploads::Entry entry(live, *upload);
  std::vector<std::string> etags;
  Status sent = Status::Ok();
  for (uint64_t offset = 0; offset < size && sent.ok(); offset += kPartBytes) {
    size_t length = static_cast<size_t>(std::min(kPartBytes, size - offset));
    sent = ReadFullyAt(file.fd(), offset, buffer.data(), length);
    if (!sent.ok()) break;
    auto etag = client.PutPart(key, *upload, static_cast<int>(etags.size() + 1),
                               std::string_view(buffer.data(), length));
    if (etag.ok()) etags.push_back(std::move(etag.value()));
    sent = etag.status();
  }
  if (sent.ok()) sent = client.CompleteMultipart(key, *upload, etags);
  if (!sent.ok()) (void)client.AbortMultipart(key, *upload);
  return sent;
}

// A writer of the local directory whose Commit also publishes the blob in the bucket.
class S3BlobWriter : public BlobWriter {
 public:
  S3BlobWriter(S3BlobStore* store, std::unique_ptr<BlobWriter> local)
      : store_(store), local_(std::move(local)) {}

  uint64_t resumed_bytes() const override { return local_->resumed_bytes(); }
  Status Append(const void* data, size_t size) override { return local_->Append(data, size); }
  Result<BlobFile> OpenWritten() override { return local_->OpenWritten(); }
  uint64_t readable_bytes() const override { return local_->readable_bytes(); }
  Status Flush() override { return local_->Flush(); }
  Result<StoredBlob> Commit() override {
    auto stored = local_->Commit();
    if (!stored.ok()) return stored;
    HM_RETURN_IF_ERROR(store_->Publish(stored->sha256));
    return stored;
  }

 private:
  S3BlobStore* store_;
  std::unique_ptr<BlobWriter> local_;
};

}  // namespace

Result<std::unique_ptr<S3BlobStore>> S3BlobStore::Open(std::unique_ptr<S3Client> client,
                                                       const std::filesystem::path& local_dir,
                                                       bool redirect) {
  auto local = LocalBlobStore::OpenDirectory(local_dir);
  if (!local.ok()) return local.status();
  return std::unique_ptr<S3BlobStore>(
      new S3BlobStore(std::move(client), std::move(local.value()), redirect));
}

std::optional<std::string> S3BlobStore::DirectReadUrl(const std::string& sha256,
                                                      int64_t valid_seconds) {
  if (!redirect_ || !IsSha256Hex(sha256)) return std::nullopt;
  return client_->PresignGet(BlobKey(sha256), valid_seconds);
}

Result<std::unique_ptr<BlobWriter>> S3BlobStore::NewWriter(const BlobExpectation& expectation) {
  auto local = local_->NewWriter(expectation);
  if (!local.ok()) return local.status();
  return std::unique_ptr<BlobWriter>(std::make_unique<S3BlobWriter>(this, std::move(*local)));
}

Status S3BlobStore::Publish(const std::string& sha256) {
  auto file = local_->Open(sha256);
  if (!file.ok()) return file.status();
  auto present = client_->Head(BlobKey(sha256));
  if (!present.ok()) return present.status();
  // An object of another size under the digest's name is damaged: the checked copy replaces it.
  if (*present && (*present)->size == file->size()) return Touch(sha256);
  return Upload(*client_, BlobKey(sha256), *file, file->size(), live_uploads_);
}

Result<bool> S3BlobStore::Contains(const std::string& sha256) {
  HM_RETURN_IF_ERROR(CheckDigest(sha256));
  auto object = client_->Head(BlobKey(sha256));
  if (!object.ok()) return object.status();
  return object->has_value();
}

Result<std::vector<bool>> S3BlobStore::ContainsEach(const std::vector<std::string>& sha256s) {
  for (const auto& sha256 : sha256s) HM_RETURN_IF_ERROR(CheckDigest(sha256));
  std::vector<bool> found;
  found.reserve(sha256s.size());
  for (const auto& sha256 : sha256s) {
    auto contains = Contains(sha256);
    if (!contains.ok()) return contains.status();
    found.push_back(*contains);
  }
  return found;
}

Status S3BlobStore::ForEach(const std::function<Status(const BlobListing& blob)>& blob) {
  std::map<std::string, int64_t> touched;
  // The digest a key names after `folder/`, or "" for a key that is not this store's.
  auto digest_of = [&](const S3Object& object, std::string_view folder) {
    auto relative = client_->RelativeKey(object.key);
    if (!relative || relative->compare(0, folder.size(), folder) != 0) return std::string();
    std::string sha256 = relative->substr(folder.size());
    return IsSha256Hex(sha256) ? sha256 : std::string();
  };
  HM_RETURN_IF_ERROR(ListAll(*client_, "touched/", [&](const S3Object& object) {
    touched[digest_of(object, "touched/")] = object.modified_ms;
    return Status::Ok();
  }));
  return ListAll(*client_, "blobs/", [&](const S3Object& object) {
    std::string sha256 = digest_of(object, "blobs/");
    if (sha256.empty()) return Status::Ok();
    auto use = touched.find(sha256);
    int64_t modified = std::max(object.modified_ms, use == touched.end() ? 0 : use->second);
    return blob({sha256, object.size, modified});
  });
}

Status S3BlobStore::Delete(const std::string& sha256) {
  auto stored = Contains(sha256);
  if (!stored.ok()) return stored.status();
  if (!*stored) return NotFound("blob " + sha256 + " is not stored");
  HM_RETURN_IF_ERROR(client_->Delete(BlobKey(sha256)));
  HM_RETURN_IF_ERROR(client_->Delete(TouchKey(sha256)));
  Status local = local_->Delete(sha256);
  return local.code() == StatusCode::kNotFound ? Status::Ok() : local;
}

Status S3BlobStore::Touch(const std::string& sha256) {
  auto stored = Contains(sha256);
  if (!stored.ok()) return stored.status();
  if (!*stored) return NotFound("blob " + sha256 + " is not stored");
  return client_->Put(TouchKey(sha256), "");
}

Result<std::optional<int64_t>> S3BlobStore::ObjectTime(const std::string& key) {
  auto page = client_->List(key, std::nullopt);
  if (!page.ok()) return page.status();
  for (const auto& object : page->objects) {
    if (object.key == client_->FullKey(key)) return std::optional<int64_t>(object.modified_ms);
  }
  return std::optional<int64_t>();
}

Result<int64_t> S3BlobStore::LastUse(const std::string& sha256) {
  HM_RETURN_IF_ERROR(CheckDigest(sha256));
  auto written = ObjectTime(BlobKey(sha256));
  if (!written.ok()) return written.status();
  if (!*written) return NotFound("blob " + sha256 + " is not stored");
  auto used = ObjectTime(TouchKey(sha256));
  if (!used.ok()) return used.status();
  return std::max(**written, used->value_or(0));
}

Result<bool> S3BlobStore::DeleteUnusedSince(const std::string& sha256, int64_t unused_since_ms) {
  auto last = LastUse(sha256);
  if (!last.ok()) return last.status();
  if (*last >= unused_since_ms) return false;
  HM_RETURN_IF_ERROR(Delete(sha256));
  return true;
}

Result<std::unique_ptr<WriteLease>> S3BlobStore::LeaseWrites() { return local_->LeaseWrites(); }

Result<std::optional<int64_t>> S3BlobStore::OldestLease() { return local_->OldestLease(); }

Result<SweepReport> S3BlobStore::SweepTemporaries(int64_t unused_since_ms, bool dry_run) {
  auto report = local_->SweepTemporaries(unused_since_ms, dry_run);
  if (!report.ok()) return report;
  // Multipart uploads that a killed process left in the bucket: their parts cost space until
  // aborted. Bytes are not counted (S3 lists them per part only).
  std::optional<std::pair<std::string, std::string>> from;
  do {
    auto page = client_->ListMultipart("blobs/", from);
    if (!page.ok()) return page.status();
    for (const auto& upload : page->uploads) {
      if (upload.initiated_ms >= unused_since_ms || live_uploads_.Contains(upload.upload_id)) {
        continue;
      }
      auto key = client_->RelativeKey(upload.key);
      if (!key) continue;
      if (!dry_run) HM_RETURN_IF_ERROR(client_->AbortMultipart(*key, upload.upload_id));
      ++report->files;
    }
    from = page->next_markers;
  } while (from);
  return report;
}

Result<SweepReport> S3BlobStore::SweepQuarantine(int64_t quarantined_before_ms, bool dry_run) {
  SweepReport report;
  HM_RETURN_IF_ERROR(ListAll(*client_, "quarantine/", [&](const S3Object& object) {
    // Named <sha256>.<unix ms of the move>.
    size_t dot = object.key.rfind('.');
    int64_t moved = 0;
    if (dot == std::string::npos) return Status::Ok();
    auto [end, error] =
        std::from_chars(object.key.data() + dot + 1, object.key.data() + object.key.size(), moved);
    if (error != std::errc() || moved >= quarantined_before_ms) return Status::Ok();
    if (!dry_run) {
      auto relative = client_->RelativeKey(object.key);
      if (!relative) return Status::Ok();
      HM_RETURN_IF_ERROR(client_->Delete(*relative));
    }
    ++report.files;
    report.bytes += object.size;
    return Status::Ok();
  }));
  return report;
}

Result<std::string> S3BlobStore::Fingerprint(const std::string& sha256) {
  HM_RETURN_IF_ERROR(CheckDigest(sha256));
  auto object = client_->Head(BlobKey(sha256));
  if (!object.ok()) return object.status();
  if (!*object) return NotFound("blob " + sha256 + " is not stored");
  return (*object)->etag + "/" + std::to_string((*object)->size);
}

Result<std::unique_ptr<BlobWriter>> S3BlobStore::Fetch(const std::string& sha256, bool checked) {
  HM_RETURN_IF_ERROR(CheckDigest(sha256));
  auto object = client_->Head(BlobKey(sha256));
  if (!object.ok()) return object.status();
  if (!*object) return NotFound("blob " + sha256 + " is not stored");
  BlobExpectation expectation{(*object)->size, checked ? sha256 : "", ""};
  expectation.compute_git_sha1 = false;
  auto writer = local_->NewWriter(expectation);
  if (!writer.ok()) return writer.status();
  HM_RETURN_IF_ERROR(
      client_->Get(BlobKey(sha256), 0, std::nullopt,
                   [&](const char* data, size_t size) { return (*writer)->Append(data, size); }));
  return writer;
}

Result<BlobFile> S3BlobStore::Open(const std::string& sha256) {
  HM_RETURN_IF_ERROR(CheckDigest(sha256));
  auto cached = local_->Open(sha256);
  if (cached.status().code() != StatusCode::kNotFound) return cached;
  auto writer = Fetch(sha256, true);
  if (!writer.ok()) return writer.status();
  auto fetched = (*writer)->Commit();
  if (!fetched.ok()) {
    return Status(fetched.status().code(),
                  "blob " + sha256 + " in the object store: " + fetched.status().message());
  }
  return local_->Open(sha256);
}

Result<BlobFile> S3BlobStore::OpenStored(const std::string& sha256) {
  auto writer = Fetch(sha256, false);
  if (!writer.ok()) return writer.status();
  HM_RETURN_IF_ERROR((*writer)->Flush());
  // The descriptor outlives the writer, whose temporary file goes with it.
  return (*writer)->OpenWritten();
}

Status S3BlobStore::Quarantine(const std::string& sha256) {
  auto stored = Contains(sha256);
  if (!stored.ok()) return stored.status();
  if (!*stored) return NotFound("blob " + sha256 + " is not stored");
  HM_RETURN_IF_ERROR(client_->Copy(BlobKey(sha256),
                                   "quarantine/" + sha256 + "." + std::to_string(NowUnixMillis())));
  return Delete(sha256);
}

}  // namespace hubmirror::storage
