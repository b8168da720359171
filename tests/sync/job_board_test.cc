#include "sync/job_board.h"

#include <array>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace hubmirror::sync {
namespace {

using namespace std::chrono_literals;
using api::JobKind;
using api::JobState;
using api::JobView;

// Every test declares what its jobs' work refers to (gates, counters) before the board: the
// board's destructor stops it and waits for its jobs, so it must go first.

// Holds a job in kRunning until the test opens the gate. The board sets a job's cancel flag and
// tells no one, so the waiting work also looks at the flag every millisecond, as a real job does
// between its steps: a cancelled or stopped job ends without the test's help. The tests wait on
// the gate's futures, never on time; 10 s only bounds a failure.
class Gate {
 public:
  // Work that tells the test it runs, waits, and returns `result`, cancelled or not.
  JobWork Work(nlohmann::json result = nlohmann::json{{"released", true}}) {
    return [this, result](JobContext& context) -> Result<nlohmann::json> {
      Block(context);
      return result;
    };
  }
  // What Work does before it returns, for work that does more first.
  void Block(const JobContext& context) {
    ran_ = true;
    started_.set_value();
    {
      std::unique_lock lock(mutex_);
      while (!open_ && !context.cancel().load()) opened_.wait_for(lock, 1ms);
    }
    saw_cancel_ = context.cancel().load();
    ended_.set_value();
  }

  void Open() {
    {
      std::lock_guard lock(mutex_);
      open_ = true;
    }
    opened_.notify_all();
  }
  // Whether the work started within 10 s.
  bool WaitStarted() { return started_future_.wait_for(10s) == std::future_status::ready; }
  // Whether the work stopped waiting within 10 s; it returns right after.
  bool WaitEnded() { return ended_future_.wait_for(10s) == std::future_status::ready; }
  bool Ran() const { return ran_.load(); }
  // Whether the job's cancel flag was set when the work stopped waiting.
  bool SawCancel() const { return saw_cancel_.load(); }

 private:
  std::mutex mutex_;
  std::condition_variable opened_;
  bool open_ = false;
  std::atomic<bool> ran_{false};
  std::atomic<bool> saw_cancel_{false};
  std::promise<void> started_;
  std::promise<void> ended_;
  std::future<void> started_future_ = started_.get_future();
  std::future<void> ended_future_ = ended_.get_future();
};

// Work that counts its runs and succeeds at once.
JobWork Counted(std::atomic<int>& runs) {
  return [&runs](JobContext&) -> Result<nlohmann::json> {
    ++runs;
    return nlohmann::json::object();
  };
}

// Runs a job of `kind` that does nothing, on this thread. It starts only once every job of that
// kind queued before it has ended, so the board's views of those jobs are final when it returns.
JobView RunAfter(JobBoard& board, JobKind kind) {
  return board.Run(kind, "", "schedule",
                   [](JobContext&) -> Result<nlohmann::json> { return nlohmann::json::object(); });
}

// The board's view of job `id`, which the test expects it to keep.
JobView Found(const JobBoard& board, uint64_t id) {
  std::optional<JobView> view = board.Find(id);
  REQUIRE(view.has_value());
  return *view;
}

std::vector<uint64_t> Ids(const std::vector<JobView>& views) {
  std::vector<uint64_t> ids;
  for (const JobView& view : views) ids.push_back(view.id);
  return ids;
}

TEST_CASE("Run runs a job on the calling thread and returns it as it ended", "[job_board]") {
  const nlohmann::json pass_result = {{"downloaded_files", 2}};
  std::thread::id worker;
  uint64_t context_id = 0;
  bool cancelled = true;
  JobBoard board;

  JobView passed = board.Run(JobKind::kSync, "rule 2: model acme/m", "schedule",
                             [&](JobContext& context) -> Result<nlohmann::json> {
                               worker = std::this_thread::get_id();
                               context_id = context.id();
                               cancelled = context.cancel().load();
                               return pass_result;
                             });
  CHECK(worker == std::this_thread::get_id());
  CHECK(context_id == 1u);
  CHECK_FALSE(cancelled);
  CHECK(passed.id == 1u);
  CHECK(passed.kind == JobKind::kSync);
  CHECK(passed.target == "rule 2: model acme/m");
  CHECK(passed.trigger == "schedule");
  CHECK(passed.state == JobState::kSucceeded);
  CHECK_FALSE(passed.cancel_requested);
  CHECK(passed.result == pass_result);
  CHECK(passed.error.empty());
  CHECK(passed.queued_ms > 0);
  CHECK(passed.queued_ms <= passed.started_ms);
  CHECK(passed.started_ms <= passed.finished_ms);

  JobView failed =
      board.Run(JobKind::kGc, "", "admin ci",
                [](JobContext&) -> Result<nlohmann::json> { return IoError("disk unplugged"); });
  CHECK(failed.id == 2u);
  CHECK(failed.kind == JobKind::kGc);
  CHECK(failed.state == JobState::kFailed);
  CHECK(failed.error == "disk unplugged");
  CHECK(failed.result == nlohmann::json::object());
  CHECK(failed.queued_ms > 0);
  CHECK(failed.queued_ms <= failed.started_ms);
  CHECK(failed.started_ms <= failed.finished_ms);

  // The board keeps both as they ended, the newest first.
  CHECK(Found(board, 1).result == pass_result);
  CHECK(Found(board, 2).error == "disk unplugged");
  CHECK(Ids(board.List()) == std::vector<uint64_t>{2, 1});
}

TEST_CASE("Jobs of one kind run one at a time, in the order they were queued", "[job_board]") {
  Gate first, second, third;
  JobBoard board;
  auto a = board.Submit(JobKind::kSync, "rule 1: model acme/a", "admin ci", first.Work());
  REQUIRE(a.ok());
  // Its thread waits for the board's lock first, so Submit always returns the job queued.
  CHECK(a->state == JobState::kQueued);
  CHECK(a->started_ms == 0);
  REQUIRE(first.WaitStarted());
  auto b = board.Submit(JobKind::kSync, "rule 2: model acme/b", "admin ci", second.Work());
  auto c = board.Submit(JobKind::kSync, "rule 3: model acme/c", "admin ci", third.Work());
  REQUIRE(b.ok());
  REQUIRE(c.ok());
  CHECK(Found(board, a->id).state == JobState::kRunning);
  CHECK(Found(board, b->id).state == JobState::kQueued);
  CHECK(Found(board, c->id).state == JobState::kQueued);
  CHECK_FALSE(second.Ran());
  CHECK_FALSE(third.Ran());

  // The second starts once the first has ended; the third still waits, behind the second.
  first.Open();
  REQUIRE(second.WaitStarted());
  CHECK(Found(board, a->id).state == JobState::kSucceeded);
  CHECK(Found(board, b->id).state == JobState::kRunning);
  CHECK(Found(board, c->id).state == JobState::kQueued);
  CHECK_FALSE(third.Ran());

  second.Open();
  REQUIRE(third.WaitStarted());
  third.Open();
  REQUIRE(third.WaitEnded());
  RunAfter(board, JobKind::kSync);
  JobView ended[] = {Found(board, a->id), Found(board, b->id), Found(board, c->id)};
  for (const JobView& view : ended) CHECK(view.state == JobState::kSucceeded);
  CHECK(ended[0].finished_ms <= ended[1].started_ms);
  CHECK(ended[1].finished_ms <= ended[2].started_ms);
}

TEST_CASE("Jobs of different kinds run side by side", "[job_board]") {
  const std::array<JobKind, 4> kinds = {JobKind::kSync, JobKind::kGc, JobKind::kVerify,
                                        JobKind::kBudget};
  std::array<Gate, 4> gates;
  JobBoard board;
  std::vector<uint64_t> ids;
  for (size_t i = 0; i < kinds.size(); ++i) {
    auto job = board.Submit(kinds[i], "", "admin ci", gates[i].Work());
    REQUIRE(job.ok());
    ids.push_back(job->id);
  }
  // Each starts while the others block.
  for (Gate& gate : gates) REQUIRE(gate.WaitStarted());
  std::vector<JobView> views = board.List();
  CHECK(views.size() == kinds.size());
  for (const JobView& view : views) CHECK(view.state == JobState::kRunning);

  // Once the first gc job ended, a gc job run on this thread runs while the sync job blocks.
  gates[1].Open();
  REQUIRE(gates[1].WaitEnded());
  JobView gc = RunAfter(board, JobKind::kGc);
  CHECK(gc.state == JobState::kSucceeded);
  CHECK(Found(board, ids[1]).state == JobState::kSucceeded);
  CHECK(Found(board, ids[0]).state == JobState::kRunning);
  CHECK_FALSE(Found(board, ids[0]).cancel_requested);
  for (Gate& gate : gates) gate.Open();
}

TEST_CASE("A cancelled queued job never runs and does not hold up those after it", "[job_board]") {
  Gate running;
  std::atomic<int> cancelled_runs{0};
  std::atomic<int> later_runs{0};
  JobBoard board;
  auto first = board.Submit(JobKind::kSync, "", "admin ci", running.Work());
  REQUIRE(first.ok());
  REQUIRE(running.WaitStarted());
  auto queued = board.Submit(JobKind::kSync, "", "admin ci", Counted(cancelled_runs));
  auto later = board.Submit(JobKind::kSync, "", "admin ci", Counted(later_runs));
  REQUIRE(queued.ok());
  REQUIRE(later.ok());

  auto cancelled = board.Cancel(queued->id);
  REQUIRE(cancelled.ok());
  CHECK(cancelled->id == queued->id);
  CHECK(cancelled->state == JobState::kQueued);  // until its thread sees the flag
  CHECK(cancelled->cancel_requested);

  running.Open();
  REQUIRE(running.WaitEnded());
  RunAfter(board, JobKind::kSync);
  CHECK(cancelled_runs.load() == 0);
  JobView never = Found(board, queued->id);
  CHECK(never.state == JobState::kCancelled);
  CHECK(never.started_ms == 0);
  CHECK(never.finished_ms >= never.queued_ms);
  CHECK(never.finished_ms != 0);
  // Cancelling it touched neither the job before it nor the one after.
  CHECK(Found(board, first->id).state == JobState::kSucceeded);
  CHECK_FALSE(Found(board, first->id).cancel_requested);
  CHECK(later_runs.load() == 1);
  CHECK(Found(board, later->id).state == JobState::kSucceeded);
}

TEST_CASE("A cancelled running job sees its flag and ends cancelled, whatever its work returns",
          "[job_board]") {
  Gate running;
  JobBoard board;
  auto job = board.Submit(JobKind::kVerify, "", "admin ci", running.Work());
  REQUIRE(job.ok());
  REQUIRE(running.WaitStarted());

  auto stopping = board.Cancel(job->id);
  REQUIRE(stopping.ok());
  CHECK(stopping->state == JobState::kRunning);
  CHECK(stopping->cancel_requested);
  // The gate stays shut: the work returns because it saw the flag, and returns a result.
  REQUIRE(running.WaitEnded());
  CHECK(running.SawCancel());
  RunAfter(board, JobKind::kVerify);
  JobView ended = Found(board, job->id);
  CHECK(ended.state == JobState::kCancelled);
  CHECK(ended.cancel_requested);
  CHECK(ended.started_ms != 0);
  CHECK(ended.started_ms <= ended.finished_ms);
  CHECK(ended.result == nlohmann::json::object());  // the work's result is dropped
  CHECK(ended.error.empty());

  // A finished job cannot be cancelled, nor can a job the board never had.
  auto again = board.Cancel(job->id);
  REQUIRE_FALSE(again.ok());
  CHECK(again.status().code() == StatusCode::kFailedPrecondition);
  CHECK(again.status().message().find("finished") != std::string::npos);
  auto unknown = board.Cancel(1000);
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.status().code() == StatusCode::kNotFound);
}

TEST_CASE("A job's progress, reported from several threads, shows while it runs", "[job_board]") {
  static constexpr int kReporters = 4;
  static constexpr int kReports = 1000;
  Gate gate;
  JobBoard board;
  // As a job's download threads do, each reporter adds to what is known, then to what is done.
  JobWork work = [&gate](JobContext& context) -> Result<nlohmann::json> {
    std::vector<std::thread> reporters;
    for (int t = 0; t < kReporters; ++t) {
      reporters.emplace_back([&context] {
        for (int i = 0; i < kReports; ++i) {
          context.AddTotal(7, 2);
          context.AddDone(5, 1);
        }
      });
    }
    for (std::thread& reporter : reporters) reporter.join();
    gate.Block(context);
    return nlohmann::json::object();
  };
  auto job = board.Submit(JobKind::kVerify, "", "admin ci", std::move(work));
  REQUIRE(job.ok());
  CHECK(job->progress.total_bytes == 0u);
  CHECK(job->progress.done_items == 0u);
  REQUIRE(gate.WaitStarted());

  const uint64_t reports = kReporters * kReports;
  JobView running = Found(board, job->id);
  CHECK(running.state == JobState::kRunning);
  CHECK(running.progress.total_bytes == 7 * reports);
  CHECK(running.progress.total_items == 2 * reports);
  CHECK(running.progress.done_bytes == 5 * reports);
  CHECK(running.progress.done_items == reports);
  std::vector<JobView> listed = board.List();
  REQUIRE(listed.size() == 1u);
  CHECK(listed[0].progress.done_bytes == 5 * reports);

  // The finished job keeps its last progress.
  gate.Open();
  REQUIRE(gate.WaitEnded());
  RunAfter(board, JobKind::kVerify);
  JobView ended = Found(board, job->id);
  CHECK(ended.state == JobState::kSucceeded);
  CHECK(ended.progress.total_bytes == 7 * reports);
  CHECK(ended.progress.done_items == reports);
}

TEST_CASE("List shows running, then queued, then the last finished jobs, newest first in each",
          "[job_board]") {
  Gate sync_gate, gc_gate;
  std::atomic<int> runs{0};
  JobBoard board;
  const uint64_t quick = JobBoard::kKeptFinished + 5;
  for (uint64_t i = 0; i < quick; ++i) board.Run(JobKind::kSync, "", "schedule", Counted(runs));
  CHECK(runs.load() == static_cast<int>(quick));
  std::vector<JobView> finished = board.List();
  REQUIRE(finished.size() == JobBoard::kKeptFinished);
  CHECK(finished.front().id == quick);
  CHECK(finished.back().id == quick - JobBoard::kKeptFinished + 1);
  // The oldest are forgotten: Find has nothing, and Cancel does not know them.
  CHECK_FALSE(board.Find(1).has_value());
  CHECK_FALSE(board.Find(quick - JobBoard::kKeptFinished).has_value());
  CHECK(board.Find(quick - JobBoard::kKeptFinished + 1).has_value());
  CHECK(board.Cancel(quick - JobBoard::kKeptFinished).status().code() == StatusCode::kNotFound);
  CHECK(board.Cancel(quick - JobBoard::kKeptFinished + 1).status().code() ==
        StatusCode::kFailedPrecondition);

  auto sync_running = board.Submit(JobKind::kSync, "", "admin ci", sync_gate.Work());
  REQUIRE(sync_running.ok());
  REQUIRE(sync_gate.WaitStarted());
  auto gc_running = board.Submit(JobKind::kGc, "", "admin ci", gc_gate.Work());
  REQUIRE(gc_running.ok());
  REQUIRE(gc_gate.WaitStarted());
  auto older_queued = board.Submit(JobKind::kSync, "", "admin ci", Counted(runs));
  auto newer_queued = board.Submit(JobKind::kSync, "", "admin ci", Counted(runs));
  REQUIRE(older_queued.ok());
  REQUIRE(newer_queued.ok());
  // One more finished job pushes the oldest kept one out.
  JobView latest = board.Run(JobKind::kVerify, "", "schedule", Counted(runs));
  REQUIRE(latest.state == JobState::kSucceeded);

  std::vector<uint64_t> expected = {gc_running->id, sync_running->id, newer_queued->id,
                                    older_queued->id, latest.id};
  for (uint64_t id = quick; id > quick + 1 - JobBoard::kKeptFinished; --id) expected.push_back(id);
  std::vector<JobView> views = board.List();
  CHECK(Ids(views) == expected);
  REQUIRE(views.size() == expected.size());
  CHECK(views[0].state == JobState::kRunning);
  CHECK(views[1].state == JobState::kRunning);
  CHECK(views[2].state == JobState::kQueued);
  CHECK(views[3].state == JobState::kQueued);
  for (size_t i = 4; i < views.size(); ++i) CHECK(views[i].state == JobState::kSucceeded);
  CHECK_FALSE(board.Find(quick + 1 - JobBoard::kKeptFinished).has_value());
  // The board's destructor cancels the jobs still running and queued.
}

TEST_CASE("Submit refuses a job while kMaxWaiting wait already", "[job_board]") {
  Gate blocking;
  std::atomic<int> runs{0};
  JobBoard board;
  auto first = board.Submit(JobKind::kSync, "", "admin ci", blocking.Work());
  REQUIRE(first.ok());
  REQUIRE(blocking.WaitStarted());
  for (size_t i = 0; i < JobBoard::kMaxWaiting; ++i) {
    auto queued =
        board.Submit(JobKind::kSync, "rule " + std::to_string(i + 1), "admin ci", Counted(runs));
    REQUIRE(queued.ok());
    CHECK(queued->state == JobState::kQueued);
  }
  auto refused = board.Submit(JobKind::kSync, "", "admin ci", Counted(runs));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == StatusCode::kFailedPrecondition);
  CHECK(refused.status().message().find("queued") != std::string::npos);

  // The limit is on what Submit queues: a schedule's job of another kind still runs, and the
  // refused job took no id and is not listed.
  JobView scheduled = board.Run(JobKind::kGc, "", "schedule", Counted(runs));
  CHECK(scheduled.state == JobState::kSucceeded);
  CHECK(scheduled.id == first->id + JobBoard::kMaxWaiting + 1);
  CHECK(board.List().size() == JobBoard::kMaxWaiting + 2);

  blocking.Open();
  REQUIRE(blocking.WaitEnded());
  RunAfter(board, JobKind::kSync);
  CHECK(runs.load() == static_cast<int>(JobBoard::kMaxWaiting) + 1);
  for (const JobView& view : board.List()) CHECK(view.state == JobState::kSucceeded);
  // Once the waiting jobs ran, Submit queues again.
  auto accepted = board.Submit(JobKind::kSync, "", "admin ci", Counted(runs));
  CHECK(accepted.ok());

  board.Stop();
  for (const JobView& view : board.List()) {
    CHECK((view.state != JobState::kQueued && view.state != JobState::kRunning));
  }
}

TEST_CASE("Stop cancels every job and waits for them; after it no job runs", "[job_board]") {
  Gate running;
  std::atomic<int> runs{0};
  JobBoard board;
  auto first = board.Submit(JobKind::kSync, "", "admin ci", running.Work());
  REQUIRE(first.ok());
  REQUIRE(running.WaitStarted());
  auto queued = board.Submit(JobKind::kSync, "", "admin ci", Counted(runs));
  REQUIRE(queued.ok());

  board.Stop();
  // Stop returned once both had ended: the running one saw its flag (the gate never opened), the
  // queued one never started.
  CHECK(running.WaitEnded());
  CHECK(running.SawCancel());
  JobView stopped = Found(board, first->id);
  CHECK(stopped.state == JobState::kCancelled);
  CHECK(stopped.cancel_requested);
  CHECK(stopped.started_ms != 0);
  JobView never = Found(board, queued->id);
  CHECK(never.state == JobState::kCancelled);
  CHECK(never.started_ms == 0);
  CHECK(never.finished_ms != 0);
  CHECK(runs.load() == 0);

  auto refused = board.Submit(JobKind::kGc, "", "admin ci", Counted(runs));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == StatusCode::kFailedPrecondition);
  // A schedule's Run returns its job cancelled without running the work.
  JobView late = board.Run(JobKind::kVerify, "", "schedule", Counted(runs));
  CHECK(late.state == JobState::kCancelled);
  CHECK(late.cancel_requested);
  CHECK(late.started_ms == 0);
  CHECK(late.finished_ms != 0);
  CHECK(runs.load() == 0);
  std::vector<JobView> views = board.List();
  REQUIRE(views.size() == 3u);
  CHECK(views[0].id == late.id);
}

}  // namespace
}  // namespace hubmirror::sync
