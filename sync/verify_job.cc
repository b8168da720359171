#include "sync/verify_job.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "common/digest.h"

namespace hubmirror::sync {
namespace {

constexpr size_t kReadBytes = 1 << 20;
constexpr size_t kUsesShown = 3;

// Keeps the reads of every thread of a run under a byte rate, and stops them when cancelled.
// Thread-safe.
class ReadPace {
 public:
  explicit ReadPace(const VerifyOptions& options)
      : rate_(options.max_bytes_per_second), cancel_(options.cancel) {}

  // Counts `bytes` read, sleeping as long as the run is ahead of its rate; false when cancelled.
  bool Read(uint64_t bytes) {
    if (cancel_ != nullptr && cancel_->load()) return false;
    if (rate_ == 0) return true;
    uint64_t total = read_.fetch_add(bytes) + bytes;
    auto due = started_ + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                              std::chrono::duration<double>(static_cast<double>(total) / rate_));
    // Slept in steps, so that a cancel is seen within a fraction of a second.
    while (std::chrono::steady_clock::now() < due) {
      if (cancel_ != nullptr && cancel_->load()) return false;
      std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
          due - std::chrono::steady_clock::now(), std::chrono::milliseconds(100)));
    }
    return true;
  }

 private:
  const uint64_t rate_;
  const std::atomic<bool>* cancel_;
  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::atomic<uint64_t> read_{0};
};

// What hashing one stored blob found: nullopt when it matches its record.
std::optional<BlobProblem> CheckBlob(storage::BlobStore& store, const registry::BlobRecord& blob,
                                     std::vector<char>& buffer, MirrorObserver* observer,
                                     ReadPace& pace) {
  auto file = store.OpenStored(blob.sha256);
  if (!file.ok()) {
    if (file.status().code() == StatusCode::kNotFound) {
      return BlobProblem{blob.sha256, registry::BlobState::kMissing, "not in the store", {}};
    }
    if (file.status().code() == StatusCode::kCorrupt) {
      return BlobProblem{blob.sha256, registry::BlobState::kCorrupt, file.status().message(), {}};
    }
    // Not a verdict on the blob (permissions, descriptors): the run cannot go on.
    throw std::runtime_error("cannot open blob " + blob.sha256 + ": " + file.status().message());
  }
  ::posix_fadvise(file->fd(), 0, 0, POSIX_FADV_SEQUENTIAL);
  // A matching SHA-256 proves the bytes; git's id is checked too where a non-LFS file uses it.
  bool check_git = blob.git_file && !blob.git_sha1.empty();
  ContentHasher hasher(file->size(), check_git);
  uint64_t read_total = 0;
  for (;;) {
    ssize_t got = ::read(file->fd(), buffer.data(), buffer.size());
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      return BlobProblem{blob.sha256,
                         registry::BlobState::kCorrupt,
                         ErrnoStatus("unreadable", errno).message(),
                         {}};
    }
    if (got == 0) break;
    if (!pace.Read(static_cast<uint64_t>(got))) throw std::runtime_error("verification stopped");
    hasher.Update(buffer.data(), static_cast<size_t>(got));
    read_total += static_cast<uint64_t>(got);
    if (observer != nullptr) observer->OnBytes(blob.sha256, blob.size, static_cast<uint64_t>(got));
  }
  ContentHasher::Digests digests = hasher.Finish();
  if (read_total != blob.size) {
    return BlobProblem{blob.sha256,
                       registry::BlobState::kCorrupt,
                       "size " + std::to_string(read_total) + ", expected " +
                           std::to_string(blob.size) + " (sha256 " + digests.sha256 + ")",
                       {}};
  }
  if (digests.sha256 != blob.sha256) {
    return BlobProblem{
        blob.sha256, registry::BlobState::kCorrupt, "actual sha256 " + digests.sha256, {}};
  }
  if (check_git && digests.git_sha1 != blob.git_sha1) {
    return BlobProblem{blob.sha256,
                       registry::BlobState::kCorrupt,
                       "git blob sha1 " + digests.git_sha1 + ", expected " + blob.git_sha1,
                       {}};
  }
  return std::nullopt;
}

}  // namespace

Result<VerifyReport> VerifyStore(storage::BlobStore& store, registry::Registry& registry,
                                 const VerifyOptions& options, MirrorObserver* observer) {
  auto started = std::chrono::steady_clock::now();
  if (options.type) {
    auto repo = registry.FindRepo(*options.type, options.repo);
    if (!repo.ok()) return repo.status();
  }
  auto blobs = registry.ListBlobs(options.type, options.repo);
  if (!blobs.ok()) return blobs.status();
  VerifyReport report;
  report.blobs = blobs->size();
  for (const auto& blob : *blobs) report.bytes += blob.size;
  if (observer != nullptr) observer->OnPlanned(blobs->size(), report.bytes);

  std::vector<std::optional<BlobProblem>> found(blobs->size());
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex failure_mutex;  // guards failure
  Status failure;
  ReadPace pace(options);
  auto worker = [&] {
    std::vector<char> buffer(kReadBytes);
    for (size_t k; !failed && (k = next++) < blobs->size();) {
      try {
        found[k] = CheckBlob(store, (*blobs)[k], buffer, observer, pace);
      } catch (const std::exception& e) {
        std::lock_guard lock(failure_mutex);
        if (!failed.exchange(true)) failure = IoError(e.what());
        return;
      }
      if (observer != nullptr) observer->OnFileStored((*blobs)[k].sha256, (*blobs)[k].size, true);
    }
  };
  size_t threads = options.threads != 0 ? options.threads
                                        : std::max<size_t>(std::thread::hardware_concurrency(), 1);
  threads = std::clamp<size_t>(threads, 1, std::max<size_t>(blobs->size(), 1));
  std::vector<std::thread> workers;
  for (size_t t = 1; t < threads; ++t) workers.emplace_back(worker);
  worker();
  for (auto& thread : workers) thread.join();
  if (failed) return failure;

  std::vector<std::pair<std::string, registry::BlobState>> states;
  for (size_t k = 0; k < blobs->size(); ++k) {
    const registry::BlobRecord& blob = (*blobs)[k];
    if (!found[k]) {
      if (blob.state != registry::BlobState::kOk) {
        states.emplace_back(blob.sha256, registry::BlobState::kOk);
      }
      continue;
    }
    BlobProblem& problem = *found[k];
    if (problem.state == registry::BlobState::kCorrupt) {
      Status moved = store.Quarantine(blob.sha256);
      if (!moved.ok() && moved.code() != StatusCode::kNotFound) return moved;
    }
    auto uses = registry.BlobUses(blob.sha256, kUsesShown);
    if (!uses.ok()) return uses.status();
    problem.uses = std::move(uses.value());
    if (blob.state != problem.state) states.emplace_back(blob.sha256, problem.state);
    report.problems.push_back(std::move(problem));
  }
  HM_RETURN_IF_ERROR(registry.SetBlobStates(states));
  auto inconsistent = registry.InconsistentFiles(options.type, options.repo);
  if (!inconsistent.ok()) return inconsistent.status();
  report.inconsistent_files = std::move(inconsistent.value());
  report.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return report;
}

size_t VerifyReport::Count(registry::BlobState state) const {
  return static_cast<size_t>(
      std::count_if(problems.begin(), problems.end(),
                    [state](const BlobProblem& p) { return p.state == state; }));
}

nlohmann::json VerifyReportJson(const VerifyReport& report) {
  auto file_json = [](const registry::BlobUse& use) {
    return nlohmann::json{{"type", RepoTypeName(use.type)},
                          {"repo", use.repo},
                          {"commit", use.commit_id},
                          {"path", use.path}};
  };
  nlohmann::json inconsistent = nlohmann::json::array();
  for (const auto& [use, detail] : report.inconsistent_files) {
    nlohmann::json file = file_json(use);
    file["detail"] = detail;
    inconsistent.push_back(std::move(file));
  }
  nlohmann::json problems = nlohmann::json::array();
  for (const auto& problem : report.problems) {
    nlohmann::json files = nlohmann::json::array();
    for (const auto& use : problem.uses) files.push_back(file_json(use));
    problems.push_back({{"sha256", problem.sha256},
                        {"state", registry::BlobStateName(problem.state)},
                        {"detail", problem.detail},
                        {"files", std::move(files)}});
  }
  return {{"blobs", report.blobs},
          {"bytes", report.bytes},
          {"corrupt", report.Count(registry::BlobState::kCorrupt)},
          {"missing", report.Count(registry::BlobState::kMissing)},
          {"seconds", report.seconds},
          {"bytes_per_second", report.BytesPerSecond()},
          {"problems", std::move(problems)},
          {"inconsistent", std::move(inconsistent)}};
}

}  // namespace hubmirror::sync
