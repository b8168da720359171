#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "common/status.h"
#include "registry/registry.h"
#include "storage/blob_store.h"
#include "sync/gc_job.h"
#include "sync/job_board.h"

namespace hubmirror::sync {

// The daemon's upkeep (`[gc]` and `[verify]` in the server's config); a job without an interval
// does not run.
struct MaintenanceConfig {
  std::optional<std::chrono::seconds> gc_interval;
  GcOptions gc;
  std::optional<std::chrono::seconds> verify_interval;
  uint64_t verify_max_bytes_per_second = 0;  // 0: no limit
  // The storage budget ([storage] max_bytes), checked every budget_interval.
  std::optional<uint64_t> max_store_bytes;
  std::chrono::seconds budget_interval{60};
  // Where the budget learns which pull-through repos clients used, and when (may be empty).
  std::function<std::vector<registry::RepoUse>()> take_repo_uses;
};

// What the jobs did since the daemon started, for metrics. Value type.
struct MaintenanceStatus {
  uint64_t gc_runs = 0;
  uint64_t gc_failures = 0;
  uint64_t gc_freed_blobs = 0;
  uint64_t gc_freed_bytes = 0;
  double gc_last_seconds = 0;
  uint64_t verify_runs = 0;
  uint64_t verify_failures = 0;
  uint64_t verify_bytes = 0;  // read and hashed, in all runs
  uint64_t verify_corrupt = 0;
  uint64_t verify_missing = 0;
  double verify_last_seconds = 0;
  uint64_t evicted_blobs = 0;
  uint64_t evicted_bytes = 0;
  uint64_t budget_failures = 0;
};

// Runs garbage collection, the scrub (verify at a bounded rate, one thread) and the storage
// budget's eviction (EnforceStorageBudget) on their schedules, each as a job on `board` from a
// thread of its own, with its own registry connection; the first run of each comes one interval
// after Start or the last Reconfigure. What a scrub finds is marked as `hubmirror verify` marks
// it: the server refuses those files and the next sync repairs them. Failures are logged and
// counted, as are the runs of the same work that admins queue (GcWork, VerifyWork, BudgetWork).
// Thread-safe. Stop the board first: Stop waits for the schedules' threads, and a running job
// ends only when it finishes or the board cancels it.
class Maintenance {
 public:
  Maintenance(MaintenanceConfig config, std::filesystem::path registry_path,
              storage::BlobStore& store, JobBoard& board);
  ~Maintenance();

  // Applies a new config; each schedule starts its wait over.
  void Reconfigure(MaintenanceConfig config);
  MaintenanceConfig Config() const;
  void Stop();
  MaintenanceStatus Status() const;

  // The jobs' work, for the board. A budget job needs a budget: kFailedPrecondition without one.
  JobWork GcWork(GcOptions options);
  JobWork VerifyWork();
  Result<JobWork> BudgetWork();

 private:
  void Loop(api::JobKind kind);
  // The interval of a kind's schedule, if it runs. Needs mutex_.
  std::optional<std::chrono::seconds> IntervalOf(api::JobKind kind) const;
  Result<nlohmann::json> RunGc(const GcOptions& options);
  Result<nlohmann::json> RunVerify(JobContext& context);
  Result<nlohmann::json> RunBudget(uint64_t max_bytes);

  const std::filesystem::path registry_path_;
  storage::BlobStore& store_;
  JobBoard& board_;
  mutable std::mutex mutex_;  // guards what follows
  MaintenanceConfig config_;
  uint64_t generation_ = 0;  // counts Reconfigure calls
  bool stopping_ = false;
  std::condition_variable changed_;
  MaintenanceStatus status_;
  std::vector<std::thread> threads_;
};

}  // namespace hubmirror::sync
