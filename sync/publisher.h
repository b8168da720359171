#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>

#include "api/publisher.h"
#include "registry/registry.h"
#include "storage/blob_store.h"
#include "sync/multipart_uploads.h"

namespace hubmirror::sync {

// api::Publisher over the blob store and the registry: a commit's inline files are stored
// (hashed once) before its revision is published in one registry transaction, which moves the
// branch only if it still points at the parent the commit was built on. Commit ids are git's
// over the new tree, with the caller as author. Another process that moves the branch meanwhile
// makes a commit that names its parent fail (kFailedPrecondition) and one that names none be
// built again on the new head, so that neither writer's work is lost. The README's front matter
// gives the revision's card data, tags and lineage, as `import` does. Holds a write lease while it
// stores content, so gc keeps what it wrote. Thread-safe: commits run one at a time, on their own
// registry connection.
class RegistryPublisher : public api::Publisher {
 public:
  RegistryPublisher(storage::BlobStore& store, std::filesystem::path registry_path)
      : store_(store), registry_path_(std::move(registry_path)), multipart_(store) {}

  Status CreateRepo(RepoType type, const std::string& repo, bool is_private,
                    const std::string& author) override;
  Status DeleteRepo(RepoType type, const std::string& repo) override;
  Result<std::string> Commit(const api::CommitRequest& request) override;
  Result<std::unique_ptr<api::UploadSink>> BeginUpload(const std::string& sha256, uint64_t size,
                                                       const std::string& uploader) override;
  Status BeginMultipart(const std::string& sha256, uint64_t size, uint64_t part_bytes,
                        const std::string& uploader) override;
  Result<std::unique_ptr<api::UploadSink>> BeginPart(const std::string& sha256,
                                                     const std::string& uploader,
                                                     uint32_t part) override;
  Status CompleteMultipart(const std::string& sha256, const std::string& uploader) override;
  bool Uploaded(const std::string& user, const std::string& sha256) override;
  api::PublishLimits Limits() override;
  void SetLimits(api::PublishLimits quotas);

 private:
  // This publisher's connection, opened on first use. Needs mutex_.
  Result<registry::Registry*> Registry();
  // Remembers that `uploader` stored `sha256` (see Uploaded).
  void RememberUpload(const std::string& uploader, const std::string& sha256);
  // One attempt at a commit, on the branch's head as it is now. Needs mutex_.
  Result<std::string> CommitOnHead(registry::Registry& registry, const api::CommitRequest& request);

  storage::BlobStore& store_;
  const std::filesystem::path registry_path_;
  std::mutex mutex_;  // one write at a time; guards registry_
  std::unique_ptr<registry::Registry> registry_;
  std::mutex uploads_mutex_;  // guards uploads_ and limits_
  // Who uploaded what, and when (unix ms): forgotten after a day, or with the process.
  std::map<std::pair<std::string, std::string>, int64_t> uploads_;  // (user, sha256)
  api::PublishLimits limits_;                                       // guarded by uploads_mutex_
  MultipartUploads multipart_;
};

}  // namespace hubmirror::sync
