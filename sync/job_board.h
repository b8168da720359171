#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "api/job_control.h"
#include "common/status.h"

namespace hubmirror::sync {

// What a running job may use: its cancel flag, which the jobs' own cancel options take, and its
// progress counters. Thread-safe: a job's download threads report at once.
class JobContext {
 public:
  uint64_t id() const { return id_; }
  // Set once the job is cancelled or the board stops.
  const std::atomic<bool>& cancel() const { return cancel_; }
  void AddTotal(uint64_t bytes, uint64_t items) {
    total_bytes_ += bytes;
    total_items_ += items;
  }
  void AddDone(uint64_t bytes, uint64_t items) {
    done_bytes_ += bytes;
    done_items_ += items;
  }
  api::JobProgress Progress() const {
    return {done_bytes_.load(), total_bytes_.load(), done_items_.load(), total_items_.load()};
  }

 private:
  friend class JobBoard;
  explicit JobContext(uint64_t id) : id_(id) {}

  const uint64_t id_;
  std::atomic<bool> cancel_{false};
  std::atomic<uint64_t> done_bytes_{0};
  std::atomic<uint64_t> total_bytes_{0};
  std::atomic<uint64_t> done_items_{0};
  std::atomic<uint64_t> total_items_{0};
};

// A job's work: its result (an object for JobView::result), or its failure. Work that returns
// after its cancel flag was set ends as cancelled, whatever it returns.
using JobWork = std::function<Result<nlohmann::json>(JobContext& context)>;

// The daemon's jobs, those its schedules run and those admins queue, each with its state,
// progress and outcome. Jobs of one kind run one at a time, in the order they were queued (two
// syncs never race over the same repo); jobs of different kinds run side by side, which gc, the
// scrub and the budget are built to allow. Keeps the kKeptFinished most recent finished jobs.
// Thread-safe.
class JobBoard {
 public:
  static constexpr size_t kKeptFinished = 100;
  // Jobs queued by Submit that have not started, at most.
  static constexpr size_t kMaxWaiting = 16;

  JobBoard() = default;
  JobBoard(const JobBoard&) = delete;
  JobBoard& operator=(const JobBoard&) = delete;
  ~JobBoard();  // Stop

  // Runs `work` as a job on the calling thread (a schedule's own) once no job of its kind runs,
  // and returns the job as it ended. Once the board stopped it returns a cancelled job at once.
  api::JobView Run(api::JobKind kind, std::string target, std::string trigger, JobWork work);
  // Queues `work` to run as Run would, on a thread of its own, and returns the queued job.
  // kFailedPrecondition when kMaxWaiting jobs wait already, or the board stopped.
  Result<api::JobView> Submit(api::JobKind kind, std::string target, std::string trigger,
                              JobWork work);

  std::vector<api::JobView> List() const;  // as api::JobControl::ListJobs
  std::optional<api::JobView> Find(uint64_t id) const;
  // As api::JobControl::CancelJob.
  Result<api::JobView> Cancel(uint64_t id);

  // Cancels every job, starts no new one, and waits for Submit's threads.
  void Stop();

 private:
  struct Job {
    explicit Job(uint64_t id) : context(id) {}
    api::JobView view;  // guarded by mutex_; progress is read from the context
    JobContext context;
    bool submitted = false;  // queued by Submit, counted against kMaxWaiting
  };

  std::shared_ptr<Job> Enqueue(api::JobKind kind, std::string target, std::string trigger);
  api::JobView Execute(const std::shared_ptr<Job>& job, const JobWork& work);
  // Whether `job` is the first of its kind waiting, and none of its kind runs. Needs mutex_.
  bool MayStart(const Job& job) const;
  api::JobView ViewOf(const Job& job) const;     // needs mutex_
  void Finish(const std::shared_ptr<Job>& job);  // needs mutex_
  void ReapThreads();

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  bool stopped_ = false;
  uint64_t next_id_ = 1;
  std::map<uint64_t, std::shared_ptr<Job>> active_;  // queued and running, by id
  std::deque<std::shared_ptr<Job>> finished_;        // oldest first
  std::array<bool, 4> running_kind_{};               // by api::JobKind
  std::map<uint64_t, std::thread> threads_;          // Submit's, by job id
  std::vector<std::thread> done_threads_;            // to be joined
};

}  // namespace hubmirror::sync
