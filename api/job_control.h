#pragma once

#include <cstdint>
#include <iterator>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/names.h"
#include "common/status.h"

namespace hubmirror::api {

// The daemon's jobs and configuration as the admin API (/api/admin/jobs, /api/admin/config)
// sees them. The API owns this interface; the daemon implements it with the sync layer and the
// config file, and `serve` wires it in, so that the API never runs a job itself.

enum class JobKind {
  kSync,    // a mirror pass: every rule (the schedule's), one rule, or one repo
  kGc,      // garbage collection
  kVerify,  // a scrub: every stored blob re-hashed
  kBudget,  // the storage budget's eviction
};

enum class JobState { kQueued, kRunning, kSucceeded, kFailed, kCancelled };

inline constexpr std::string_view kJobKindNames[] = {"sync", "gc", "verify", "budget"};
inline constexpr std::string_view kJobStateNames[] = {"queued", "running", "succeeded", "failed",
                                                      "cancelled"};

inline std::string_view JobKindName(JobKind kind) { return kJobKindNames[static_cast<int>(kind)]; }
inline std::string_view JobStateName(JobState state) {
  return kJobStateNames[static_cast<int>(state)];
}
// false for a name that is not one of JobKindName's.
inline bool ParseJobKind(std::string_view name, JobKind* kind) {
  for (size_t i = 0; i < std::size(kJobKindNames); ++i) {
    if (kJobKindNames[i] == name) {
      *kind = static_cast<JobKind>(i);
      return true;
    }
  }
  return false;
}

// How far a job is: bytes and items (repos for a sync, blobs for gc and verify) done of those
// known so far; a total grows while a job discovers its work.
struct JobProgress {
  uint64_t done_bytes = 0;
  uint64_t total_bytes = 0;
  uint64_t done_items = 0;
  uint64_t total_items = 0;
};

// A job as listed. Value type.
struct JobView {
  uint64_t id = 0;  // from 1, in the order jobs were queued since the daemon started
  JobKind kind = JobKind::kSync;
  std::string target;   // what the job works on, e.g. "rule 2: model acme/m", "" for all
  std::string trigger;  // "schedule" (a schedule's run, or a reload's pass) or "admin NAME"
  JobState state = JobState::kQueued;
  bool cancel_requested = false;
  int64_t queued_ms = 0;  // unix milliseconds; 0 when it has not happened
  int64_t started_ms = 0;
  int64_t finished_ms = 0;
  JobProgress progress;
  std::string error;  // why it failed; for a sync pass, its problems one per line
  nlohmann::json result = nlohmann::json::object();  // what it did, by kind (e.g. gc: blobs, bytes)
};

// What an admin asks to run.
struct JobRequest {
  JobKind kind = JobKind::kSync;
  // A sync: one rule of the config (`rule`, from 1 in the file's order) or one repo (`repo`,
  // with `type` and optionally `revision`); neither: every rule, as a scheduled pass.
  std::optional<size_t> rule;
  RepoType type = RepoType::kModel;
  std::string repo;
  std::string revision;  // "" for the rules' revisions, or "main" for a repo no rule names
  // gc: report only, and the grace period (unset: the configured one).
  bool dry_run = false;
  std::optional<int64_t> grace_seconds;
  std::string trigger;  // who asks, as JobView::trigger
};

// The daemon's jobs and configuration. Thread-safe: called from the server's I/O threads, so no
// call waits for a job.
class JobControl {
 public:
  virtual ~JobControl() = default;

  // Running and queued jobs, then finished ones (the most recent, a bounded number), newest
  // first in each group.
  virtual std::vector<JobView> ListJobs() const = 0;
  virtual std::optional<JobView> FindJob(uint64_t id) const = 0;
  // Queues a job and returns it. kInvalidArgument for a request that makes no sense (a budget job
  // without a budget, a rule number out of range, an invalid repo id); kFailedPrecondition when
  // the daemon cannot run it (a sync without an [upstream]) or too many jobs are queued already.
  virtual Result<JobView> StartJob(const JobRequest& request) = 0;
  // Asks a queued or running job to stop: a queued one never starts, a running one stops at its
  // next step (a sync keeps its partial files for the next run to resume). kNotFound for an
  // unknown id; kFailedPrecondition for a job already finished.
  virtual Result<JobView> CancelJob(uint64_t id) = 0;
  // Reads the config file again and applies it: the schedule and its rules (a pass starts at
  // once when they changed), upkeep ([gc], [verify], [storage]), [access] and [publish]. Returns
  // what changed and what only a restart applies. kFailedPrecondition when the server was started
  // without a config file; kInvalidArgument, naming the file and key, for an invalid file (nothing
  // is changed).
  virtual Result<nlohmann::json> Reload() = 0;
  // The configuration in effect, as JSON, with every secret redacted.
  virtual nlohmann::json EffectiveConfig() const = 0;
};

}  // namespace hubmirror::api
