#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "storage/blob_store.h"
#include "sync/curl_upstream_hub.h"
#include "sync/mirror_job.h"

namespace hubmirror::sync {

// A mirror rule's repo may be a pattern, "ORG/GLOB" (e.g. "HuggingFaceTB/SmolLM2-*"): the
// namespace is literal, so the upstream's listing of that author bounds the search.
bool IsRepoPattern(const std::string& repo);
// kInvalidArgument unless `repo` is a valid repo id or a valid pattern.
Status ValidateRepoRule(const std::string& repo);

// What the daemon mirrors and how often (the config file's [upstream], [schedule], [[mirror]]).
struct ScheduleConfig {
  UpstreamOptions upstream;
  std::chrono::seconds interval{3600};
  std::vector<MirrorSpec> mirrors;
};

// Runs mirror passes in a background thread while the server serves: every configured repo in
// turn (patterns expanded against the upstream's listing on each pass), then a wait of `interval`.
// After a failed pass the wait is shorter, from 30 s doubling up to `interval`, and each failure is
// logged in one line. Uses its own registry connection. Stop (or destruction) interrupts a download
// in progress, whose partial file the next run resumes. Start and Stop are called from one thread.
class Scheduler {
 public:
  static Result<std::unique_ptr<Scheduler>> Start(ScheduleConfig config,
                                                  std::filesystem::path registry_path,
                                                  storage::BlobStore& store);
  ~Scheduler();
  void Stop();

 private:
  Scheduler(ScheduleConfig config, std::filesystem::path registry_path, storage::BlobStore& store)
      : config_(std::move(config)), registry_path_(std::move(registry_path)), store_(store) {}
  void Run();
  // The concrete repos of a rule: itself, or the upstream repos its pattern matches.
  Result<std::vector<MirrorSpec>> Expand(const MirrorSpec& rule);

  ScheduleConfig config_;
  std::filesystem::path registry_path_;
  storage::BlobStore& store_;
  std::unique_ptr<CurlUpstreamHub> upstream_;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;  // guards the wait below
  std::condition_variable wake_;
  std::thread thread_;
};

}  // namespace hubmirror::sync
