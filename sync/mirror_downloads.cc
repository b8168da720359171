#include "sync/mirror_downloads.h"

#include <algorithm>
#include <atomic>
#include <optional>
#include <thread>

#include "common/log.h"

namespace hubmirror::sync {
namespace {

Result<storage::StoredBlob> FetchFile(UpstreamHub& upstream, storage::BlobStore& store,
                                      const MirrorSpec& spec, const std::string& commit_id,
                                      const RemoteEntry& entry, MirrorObserver* observer) {
  std::string where =
      std::string(RepoTypeName(spec.type)) + " " + spec.repo + "@" + commit_id + " " + entry.path;
  for (int attempt = 0;; ++attempt) {
    storage::BlobExpectation expectation;
    expectation.size = entry.size;
    expectation.sha256 = entry.lfs ? entry.sha256 : "";
    expectation.git_sha1 = entry.lfs ? "" : entry.git_oid;
    expectation.resumable = true;
    expectation.compute_git_sha1 = !entry.lfs;  // an LFS file's git id is its pointer's
    auto writer = store.NewWriter(expectation);
    if (!writer.ok()) return writer.status();
    DownloadInfo info;
    uint64_t resumed = (*writer)->resumed_bytes();
    if (observer != nullptr && resumed > 0) observer->OnBytes(entry.path, entry.size, resumed);
    ByteSink sink = [&](const char* data, size_t size) {
      if (spec.cancel != nullptr && spec.cancel->load()) {
        return Status(StatusCode::kIoError, "cancelled");
      }
      if (observer != nullptr) observer->OnBytes(entry.path, entry.size, size);
      return (*writer)->Append(data, size);
    };
    Status downloaded = resumed == entry.size
                            ? Status::Ok()
                            : upstream.Download(spec.type, spec.repo, commit_id, entry.path,
                                                entry.size, resumed, sink, &info);
    if (downloaded.ok() && entry.lfs && !info.linked_etag.empty() &&
        info.linked_etag != entry.sha256) {
      downloaded = Corrupt("upstream X-Linked-Etag " + info.linked_etag +
                           " differs from the tree's lfs.oid " + entry.sha256);
    }
    Result<storage::StoredBlob> stored =
        downloaded.ok() ? (*writer)->Commit() : Result<storage::StoredBlob>(downloaded);
    if (stored.ok()) return stored;
    // Upstream errors name the file already; the store's do not.
    const std::string& message = stored.status().message();
    Status failure(stored.status().code(),
                   message.starts_with(where) ? message : where + ": " + message);
    if (stored.status().code() != StatusCode::kCorrupt || attempt >= 1) return failure;
    Log(LogLevel::kWarning, failure.message() + "; downloading it again");
  }
}

}  // namespace

Status DownloadFiles(UpstreamHub& upstream, storage::BlobStore& store, const MirrorSpec& spec,
                     const std::string& commit_id, const std::vector<RemoteEntry>& files,
                     MirrorObserver* observer, std::vector<storage::StoredBlob>* stored) {
  std::vector<size_t> order(files.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return files[a].size > files[b].size; });
  std::vector<std::optional<Result<storage::StoredBlob>>> fetched(files.size());
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  auto worker = [&] {
    for (size_t k; !failed && (k = next++) < order.size();) {
      const RemoteEntry& file = files[order[k]];
      auto& result = fetched[order[k]];
      result = FetchFile(upstream, store, spec, commit_id, file, observer);
      if (!result->ok()) {
        failed = true;
      } else if (observer != nullptr) {
        observer->OnFileStored(file.path, file.size, true);
      }
    }
  };
  std::vector<std::thread> workers;
  size_t threads = std::clamp<size_t>(spec.concurrency, 1, std::max<size_t>(files.size(), 1));
  for (size_t t = 1; t < threads; ++t) workers.emplace_back(worker);
  worker();
  for (auto& thread : workers) thread.join();
  // The first failure in download order: the one that stopped the others.
  for (size_t k : order) {
    if (fetched[k] && !fetched[k]->ok()) return fetched[k]->status();
  }
  stored->clear();
  for (auto& result : fetched) stored->push_back(std::move(result->value()));
  return Status::Ok();
}

}  // namespace hubmirror::sync
