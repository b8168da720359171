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
// budget's eviction (EnforceStorageBudget) on their schedules, each on a thread of its own with its
// own registry connection; the first run of each comes one interval after Start. What a scrub finds
// is marked as `hubmirror verify` marks it: the server refuses those files and the next sync
// repairs them. Failures are logged and counted. Thread-safe; Stop (or destruction) interrupts
// waits and a scrub in progress, and lets a gc run finish.
class Maintenance {
 public:
  Maintenance(MaintenanceConfig config, std::filesystem::path registry_path,
              storage::BlobStore& store);
  ~Maintenance();

  void Stop();
  MaintenanceStatus Status() const;

 private:
  void Loop(std::chrono::seconds interval, void (Maintenance::*job)());
  void RunGc();
  void RunVerify();
  void RunBudget();

  const MaintenanceConfig config_;
  const std::filesystem::path registry_path_;
  storage::BlobStore& store_;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mutex_;  // guards status_
  std::condition_variable stopped_;
  MaintenanceStatus status_;
  std::vector<std::thread> threads_;
};

}  // namespace hubmirror::sync
