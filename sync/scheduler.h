#pragma once

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
#include "sync/job_board.h"
#include "sync/mirror_job.h"
#include "sync/mirror_pass.h"
#include "sync/upstream_counters.h"

namespace hubmirror::sync {

// What the daemon mirrors and how often (the config file's [upstream], [schedule], [[mirror]]).
struct ScheduleConfig {
  UpstreamOptions upstream;
  std::string token_env;  // the environment variable the upstream's token came from, if any
  std::chrono::seconds interval{3600};
  std::vector<MirrorSpec> mirrors;
  // The config's rule each of `mirrors` comes from, from 1 in the file's order (a rule with
  // several revisions gives several mirrors); empty when the mirrors come from no file.
  std::vector<size_t> rule_numbers;
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

// The work of one mirror pass over `rules` (RunMirrorPass) as a job on a JobBoard: it opens its
// own registry connection, logs what changed and each failure in one line, reports progress
// (bytes and files downloaded), counts downloads and failed repos in `counters` (may be null),
// and stops before the next repo, or in a download, once the job is cancelled. It fails, with one
// line per problem, when any repo failed; otherwise its result has `repos`, `downloaded_files`
// and `downloaded_bytes`.
JobWork MirrorPassWork(std::shared_ptr<UpstreamHub> upstream, std::filesystem::path registry_path,
                       storage::BlobStore& store, std::vector<MirrorSpec> rules,
                       std::shared_ptr<UpstreamCounters> counters);

// Runs mirror passes in a background thread while the server serves: every configured rule, as a
// "sync" job on `board` (MirrorPassWork), then a wait chosen by RetrySchedule. Reconfigure swaps
// the rules and the upstream and starts a pass at once. Stop (or destruction) ends the waits;
// stop the board first, which interrupts a download in progress, whose partial file the next run
// resumes. Start, Reconfigure and Stop are called from one thread.
class Scheduler {
 public:
  // Waits `duration` between passes, or less when the scheduler stops or is reconfigured; returns
  // false when it stopped. Tests pass one that returns at once (a fake clock); by default it
  // sleeps.
  using WaitFunction = std::function<bool(std::chrono::seconds duration)>;

  static Result<std::unique_ptr<Scheduler>> Start(ScheduleConfig config,
                                                  std::shared_ptr<UpstreamHub> upstream,
                                                  std::filesystem::path registry_path,
                                                  storage::BlobStore& store, JobBoard& board,
                                                  std::shared_ptr<UpstreamCounters> counters,
                                                  WaitFunction wait = nullptr);
  ~Scheduler();
  void Reconfigure(ScheduleConfig config, std::shared_ptr<UpstreamHub> upstream);
  void Stop();

 private:
  Scheduler(ScheduleConfig config, std::shared_ptr<UpstreamHub> upstream,
            std::filesystem::path registry_path, storage::BlobStore& store, JobBoard& board,
            std::shared_ptr<UpstreamCounters> counters, WaitFunction wait)
      : registry_path_(std::move(registry_path)),
        store_(store),
        board_(board),
        counters_(std::move(counters)),
        wait_(std::move(wait)),
        config_(std::move(config)),
        upstream_(std::move(upstream)) {}
  void Run();
  bool SleepUnlessStopped(std::chrono::seconds duration);

  const std::filesystem::path registry_path_;
  storage::BlobStore& store_;
  JobBoard& board_;
  const std::shared_ptr<UpstreamCounters> counters_;
  WaitFunction wait_;
  std::mutex mutex_;  // guards the config, the upstream and the flags below
  ScheduleConfig config_;
  std::shared_ptr<UpstreamHub> upstream_;
  bool stopping_ = false;
  bool reconfigured_ = false;
  std::condition_variable wake_;
  std::thread thread_;
};

}  // namespace hubmirror::sync
