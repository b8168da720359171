#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "storage/blob_store.h"
#include "sync/curl_upstream_hub.h"
#include "sync/mirror_job.h"
#include "sync/mirror_pass.h"

namespace hubmirror::sync {

// What the daemon mirrors and how often (the config file's [upstream], [schedule], [[mirror]]).
struct ScheduleConfig {
  UpstreamOptions upstream;
  std::chrono::seconds interval{3600};
  std::vector<MirrorSpec> mirrors;
};

// When the next pass starts: `interval` after a pass without failures; after a failed one 30 s
// at first, doubling with each further failure up to `interval`. Value type, not synchronised.
class RetrySchedule {
 public:
  explicit RetrySchedule(std::chrono::seconds interval) : interval_(interval) {}
  // The wait after a pass that failed or not.
  std::chrono::seconds After(bool failed);

 private:
  static constexpr std::chrono::seconds kFirstRetryDelay{30};
  std::chrono::seconds interval_;
  std::chrono::seconds retry_delay_ = kFirstRetryDelay;
};

// Runs mirror passes (RunMirrorPass) in a background thread while the server serves: every
// configured rule, then a wait chosen by RetrySchedule; each failure is logged in one line. Uses
// its own registry connection. Stop (or destruction) interrupts a download in progress, whose
// partial file the next run resumes. Start and Stop are called from one thread.
class Scheduler {
 public:
  // Waits `duration` between passes, or less when the scheduler stops; returns false when it
  // stopped. Tests pass one that returns at once (a fake clock); by default it sleeps.
  using WaitFunction = std::function<bool(std::chrono::seconds duration)>;

  static Result<std::unique_ptr<Scheduler>> Start(ScheduleConfig config,
                                                  std::shared_ptr<UpstreamHub> upstream,
                                                  std::filesystem::path registry_path,
                                                  storage::BlobStore& store,
                                                  WaitFunction wait = nullptr);
  ~Scheduler();
  void Stop();

 private:
  Scheduler(ScheduleConfig config, std::shared_ptr<UpstreamHub> upstream,
            std::filesystem::path registry_path, storage::BlobStore& store, WaitFunction wait)
      : config_(std::move(config)),
        upstream_(std::move(upstream)),
        registry_path_(std::move(registry_path)),
        store_(store),
        wait_(std::move(wait)) {}
  void Run();
  bool SleepUnlessStopped(std::chrono::seconds duration);

  ScheduleConfig config_;
  std::shared_ptr<UpstreamHub> upstream_;
  std::filesystem::path registry_path_;
  storage::BlobStore& store_;
  WaitFunction wait_;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;  // guards the wait below
  std::condition_variable wake_;
  std::thread thread_;
};

}  // namespace hubmirror::sync
