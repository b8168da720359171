#include "sync/mirror_job.h"

#include <fnmatch.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include "common/clock.h"
#include "common/digest.h"
#include "common/log.h"
#include "sync/git_objects.h"
#include "sync/model_card.h"
#include "sync/revision_entries.h"

namespace hubmirror::sync {
namespace {

bool MatchesAny(const std::vector<std::string>& globs, const std::string& path) {
  for (const auto& glob : globs) {
    if (::fnmatch(glob.c_str(), path.c_str(), 0) == 0) return true;
  }
  return false;
}

bool Selected(const MirrorSpec& spec, const std::string& path) {
  return (spec.include.empty() || MatchesAny(spec.include, path)) &&
         !MatchesAny(spec.exclude, path);
}

// Downloads one file into the store. A digest mismatch is retried once from scratch (a body
// corrupted in transit); a second mismatch fails the repo, and the bytes never enter the store.
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

Result<MirrorReport> MirrorRevision(UpstreamHub& upstream, storage::BlobStore& store,
                                    registry::Registry& registry, const MirrorSpec& spec,
                                    MirrorObserver* observer, std::string* upstream_commit) {
  bool pinned_commit = IsSha1Hex(spec.revision);
  if (!pinned_commit) HM_RETURN_IF_ERROR(ValidateRevisionName(spec.revision));
  auto remote = upstream.GetRevision(spec.type, spec.repo, spec.revision);
  if (!remote.ok()) return remote.status();
  *upstream_commit = remote->commit_id;
  MirrorReport report;
  report.commit_id = remote->commit_id;

  auto local = registry.FindRepo(spec.type, spec.repo);
  if (!local.ok() && local.status().code() != StatusCode::kRepoNotFound) return local.status();
  // A new repo takes the id as the upstream publishes it when the request spelt it in another
  // case (cards and users do).
  std::string repo_name = local.ok()                                        ? local->name
                          : AsciiLower(remote->id) == AsciiLower(spec.repo) ? remote->id
                                                                            : spec.repo;
  // What the upstream says of a model (its downloads above all) is kept current on every sync,
  // once its repo row exists.
  auto record_details = [&] {
    if (spec.type != RepoType::kModel) return Status::Ok();
    return registry.RecordModelDetails(
        {{repo_name, remote->pipeline_tag, remote->library_name, remote->downloads}});
  };
  std::string parent_id;
  // Content found corrupt or missing (by verify, or gone from the store) is fetched again, even
  // for a revision that is otherwise up to date.
  std::set<std::string> damaged;
  if (local.ok()) {
    auto blobs = registry.ListBlobs(spec.type, local->name);
    if (!blobs.ok()) return blobs.status();
    for (const auto& blob : *blobs) {
      if (blob.state != "ok") damaged.insert(blob.sha256);
    }
    auto head = registry.ResolveRevision(*local, spec.revision);
    if (head.ok() && head->id == remote->commit_id) {
      auto entries = registry.ListEntries(*local, head->id, "");
      if (!entries.ok()) return entries.status();
      for (const auto& entry : *entries) {
        if (entry.is_directory || damaged.contains(entry.sha256)) continue;
        auto contains = store.Contains(entry.sha256);
        if (!contains.ok()) return contains.status();
        if (!*contains) damaged.insert(entry.sha256);
      }
      bool intact = true;
      for (const auto& entry : *entries) intact = intact && !damaged.contains(entry.sha256);
      if (intact) {
        report.up_to_date = true;
        HM_RETURN_IF_ERROR(record_details());
        return report;
      }
      Log(LogLevel::kWarning, std::string(RepoTypeName(spec.type)) + " " + spec.repo + "@" +
                                  head->id + ": fetching content found corrupt or missing");
    }
    if (head.ok()) parent_id = head->id;
  }

  auto tree = upstream.ListTree(spec.type, spec.repo, remote->commit_id);
  if (!tree.ok()) return tree.status();
  std::vector<RemoteEntry> files;
  std::set<std::string> directories;
  for (const auto& entry : *tree) {
    if (entry.is_directory || !Selected(spec, entry.path)) continue;
    files.push_back(entry);
    for (size_t slash = entry.path.find('/'); slash != std::string::npos;
         slash = entry.path.find('/', slash + 1)) {
      directories.insert(entry.path.substr(0, slash));
    }
  }

  registry::NewRevision revision;
  revision.type = spec.type;
  revision.repo_name = repo_name;
  revision.branch = pinned_commit ? "" : spec.revision;

  // Plan on this thread (the registry connection is single-threaded), download in parallel.
  // Content is fetched once per run even when several paths share it.
  std::vector<std::string> sha256s(files.size());
  std::map<std::string, size_t> first_with_content;  // content key -> index of its first file
  std::vector<size_t> to_fetch;
  std::vector<size_t> same_content_as(files.size(), SIZE_MAX);
  for (size_t i = 0; i < files.size(); ++i) {
    const RemoteEntry& file = files[i];
    sha256s[i] = file.sha256;
    bool stored = false;
    if (file.lfs) {
      // A blob in the store was verified before it got there, even if a crash kept its row from
      // being written: it only needs the row.
      auto contains = store.Contains(file.sha256);
      if (!contains.ok()) return contains.status();
      stored = *contains;
      if (stored) {
        auto row = registry.FindBlob(file.sha256);
        if (!row.ok()) return row.status();
        if (!row->has_value()) revision.blobs.push_back({file.sha256, file.size, ""});
      }
    } else {
      // Known only by its git id: the registry maps it to the content's address.
      auto row = registry.FindBlobByGitSha1(file.git_oid, file.size);
      if (!row.ok()) return row.status();
      if (row->has_value()) {
        sha256s[i] = **row;
        auto contains = store.Contains(sha256s[i]);
        if (!contains.ok()) return contains.status();
        stored = *contains;
      }
    }
    if (stored && !damaged.contains(sha256s[i])) {
      if (observer != nullptr) observer->OnFileStored(file.path, file.size, false);
      continue;
    }
    std::string key = (file.lfs ? "sha256:" + file.sha256 : "git:" + file.git_oid) + ":" +
                      std::to_string(file.size);
    auto [first, inserted] = first_with_content.emplace(key, i);
    if (inserted) {
      to_fetch.push_back(i);
    } else {
      same_content_as[i] = first->second;
    }
  }
  // Largest first: the long transfers start at once and the small files fill the gaps beside
  // them, instead of one large file finishing alone at the end.
  std::stable_sort(to_fetch.begin(), to_fetch.end(),
                   [&](size_t a, size_t b) { return files[a].size > files[b].size; });
  if (observer != nullptr) {
    uint64_t bytes = 0;
    for (size_t i : to_fetch) bytes += files[i].size;
    observer->OnPlanned(to_fetch.size(), bytes);
  }
  std::vector<std::optional<Result<storage::StoredBlob>>> fetched(to_fetch.size());
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  auto worker = [&] {
    for (size_t k; !failed && (k = next++) < to_fetch.size();) {
      const RemoteEntry& file = files[to_fetch[k]];
      fetched[k] = FetchFile(upstream, store, spec, remote->commit_id, file, observer);
      if (!fetched[k]->ok()) {
        failed = true;
      } else if (observer != nullptr) {
        observer->OnFileStored(file.path, file.size, true);
      }
    }
  };
  std::vector<std::thread> workers;
  size_t threads = std::clamp<size_t>(spec.concurrency, 1, std::max<size_t>(to_fetch.size(), 1));
  for (size_t t = 1; t < threads; ++t) workers.emplace_back(worker);
  worker();
  for (auto& thread : workers) thread.join();
  for (size_t k = 0; k < to_fetch.size(); ++k) {
    if (!fetched[k]) continue;  // not started after another file failed
    if (!fetched[k]->ok()) return fetched[k]->status();
    const storage::StoredBlob& blob = fetched[k]->value();
    sha256s[to_fetch[k]] = blob.sha256;
    revision.blobs.push_back({blob.sha256, blob.size, blob.git_sha1});
    ++report.downloaded_files;
    report.downloaded_bytes += blob.size;
  }
  for (size_t i = 0; i < files.size(); ++i) {
    if (same_content_as[i] == SIZE_MAX) continue;
    sha256s[i] = sha256s[same_content_as[i]];
    if (observer != nullptr) observer->OnFileStored(files[i].path, files[i].size, false);
  }

  std::vector<GitTreeFile> tree_files;
  std::vector<std::string> paths;
  for (size_t i = 0; i < files.size(); ++i) {
    const RemoteEntry& file = files[i];
    registry::Entry entry;
    entry.path = file.path;
    entry.size = file.size;
    entry.git_oid = file.git_oid;
    entry.sha256 = sha256s[i];
    entry.lfs = file.lfs;
    entry.pointer_size = file.lfs ? LfsPointer(file.sha256, file.size).size() : 0;
    revision.entries.push_back(std::move(entry));
    tree_files.push_back({file.path, file.git_oid});
    paths.push_back(file.path);
  }
  report.files = files.size();
  GitTrees trees = BuildGitTrees(tree_files);
  for (const auto& directory : directories) {
    registry::Entry entry;
    entry.path = directory;
    entry.is_directory = true;
    entry.git_oid = trees.directory_ids[directory];
    revision.entries.push_back(std::move(entry));
  }

  registry::Commit& commit = revision.commit;
  commit.id = remote->commit_id;
  commit.tree_id = trees.root_id;
  commit.title = remote->commit_title;
  commit.message = remote->commit_message;
  commit.author = remote->commit_author;
  commit.date_ms = remote->commit_date_ms;
  commit.card_data_json =
      remote->card_data.is_object()
          ? remote->card_data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
          : "";
  commit.tags = remote->tags;
  commit.pipeline_tag = remote->pipeline_tag;
  commit.library_name = remote->library_name;
  if (spec.type == RepoType::kModel) {
    auto base_models = upstream.GetBaseModels(spec.repo);
    if (!base_models.ok()) return base_models.status();
    revision.lineage =
        UpstreamLineage(repo_name, remote->card_data, remote->tags, *base_models, paths);
  } else {
    revision.lineage = UpstreamLineage(repo_name, remote->card_data, remote->tags, {}, paths);
  }
  HM_RETURN_IF_ERROR(AssignLastCommits(registry, local.ok() ? &local.value() : nullptr, parent_id,
                                       commit.id, &revision.entries));
  auto published = registry.PublishRevision(revision);
  if (!published.ok()) return published.status();
  HM_RETURN_IF_ERROR(record_details());
  return report;
}

}  // namespace

Result<MirrorReport> MirrorRepo(UpstreamHub& upstream, storage::BlobStore& store,
                                registry::Registry& registry, const MirrorSpec& spec,
                                MirrorObserver* observer) {
  HM_RETURN_IF_ERROR(ValidateRepoId(spec.repo));
  registry::SyncState state;
  state.type = spec.type;
  state.repo = spec.repo;
  state.revision = spec.revision;
  state.upstream = upstream.Name();
  auto report = MirrorRevision(upstream, store, registry, spec, observer, &state.upstream_commit);
  state.last_check_ms = NowUnixMillis();
  if (report.ok()) {
    state.local_commit = report->commit_id;
    state.last_success_ms = state.last_check_ms;
  } else {
    state.last_error = report.status().message();
  }
  if (Status recorded = registry.RecordSync(state); !recorded.ok()) {
    Log(LogLevel::kWarning, "cannot record sync state of " + spec.repo + ": " + recorded.message());
  }
  return report;
}

}  // namespace hubmirror::sync
