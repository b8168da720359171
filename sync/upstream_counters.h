#pragma once

#include <atomic>
#include <cstdint>

namespace hubmirror::sync {

// What the daemon did with one upstream since it started, for /metrics: the HTTP layer counts
// requests, retries and failures and keeps the last rate-limit budget the upstream announced;
// scheduled and admin syncs count what they downloaded, pull-through what it filled. Shared by
// every client of that upstream in the process. Thread-safe (atomics only).
struct UpstreamCounters {
  std::atomic<uint64_t> requests{0};  // HTTP attempts, retries included
  std::atomic<uint64_t> retries{0};   // attempts made after a failed one
  std::atomic<uint64_t> failures{0};  // requests that failed for good (not the caller's own stop)
  // The `r=` of the last RateLimit header ("api";r=REMAINING;t=RESET), -1 before any.
  std::atomic<int64_t> rate_limit_remaining{-1};
  std::atomic<uint64_t> sync_files{0};  // downloaded and stored by syncs
  std::atomic<uint64_t> sync_bytes{0};
  std::atomic<uint64_t> sync_errors{0};  // repo syncs that failed
  std::atomic<uint64_t> fill_files{0};   // fetched and stored by pull-through for clients
  std::atomic<uint64_t> fill_bytes{0};
  std::atomic<uint64_t> fill_errors{0};  // fills that failed
};

}  // namespace hubmirror::sync
