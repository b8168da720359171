#pragma once

#include "sync/job_board.h"
#include "sync/mirror_job.h"

namespace hubmirror::sync {

// Turns what a mirror or verify job reports into its job's progress: bytes, and files (a sync's)
// or blobs (a scrub's) as items. Thread-safe, as JobContext is.
class JobObserver : public MirrorObserver {
 public:
  explicit JobObserver(JobContext& context) : context_(context) {}
  void OnPlanned(size_t files, uint64_t bytes) override { context_.AddTotal(bytes, files); }
  void OnBytes(const std::string&, uint64_t, uint64_t bytes) override {
    context_.AddDone(bytes, 0);
  }
  // Content already stored is not part of the plan, so it does not count.
  void OnFileStored(const std::string&, uint64_t, bool fetched) override {
    if (fetched) context_.AddDone(0, 1);
  }

 private:
  JobContext& context_;
};

}  // namespace hubmirror::sync
