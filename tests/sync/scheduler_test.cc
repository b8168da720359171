#include "sync/scheduler.h"

#include <catch2/catch.hpp>
#include <future>

#include "tests/fakes/mirror_fixture.h"

namespace hubmirror::sync {
namespace {

using namespace std::chrono_literals;
using testing::FakeHub;
using Call = FakeHub::Call;

TEST_CASE("Waits after failed passes double from 30 s up to the interval", "[scheduler]") {
  RetrySchedule schedule(300s);
  CHECK(schedule.After(true) == 30s);
  CHECK(schedule.After(true) == 60s);
  CHECK(schedule.After(true) == 120s);
  CHECK(schedule.After(true) == 240s);
  CHECK(schedule.After(true) == 300s);
  CHECK(schedule.After(true) == 300s);
  // A good pass waits the interval and starts the backoff over.
  CHECK(schedule.After(false) == 300s);
  CHECK(schedule.After(true) == 30s);
  RetrySchedule short_interval(20s);
  CHECK(short_interval.After(true) == 20s);
}

// Records the scheduler's waits instead of sleeping, and stops it after `passes` passes.
struct FakeClock {
  explicit FakeClock(size_t passes) : passes_left(passes) {}
  Scheduler::WaitFunction Wait() {
    return [this](std::chrono::seconds duration) {
      std::lock_guard lock(mutex);
      waits.push_back(duration);
      if (--passes_left == 0) done.set_value();
      return passes_left > 0;
    };
  }
  std::mutex mutex;
  std::vector<std::chrono::seconds> waits;
  size_t passes_left;
  std::promise<void> done;
};

// Runs a scheduler over the fixture for `passes` passes; returns the waits it asked for. The
// passes' jobs stay on `board`.
std::vector<std::chrono::seconds> RunPasses(testing::MirrorFixture& f, const ScheduleConfig& config,
                                            size_t passes, JobBoard& board,
                                            std::shared_ptr<UpstreamCounters> counters = nullptr) {
  FakeClock clock(passes);
  auto scheduler = Scheduler::Start(config, f.shared_hub, f.dir / "data/registry.db", f.store,
                                    board, std::move(counters), clock.Wait());
  REQUIRE(scheduler.ok());
  REQUIRE(clock.done.get_future().wait_for(30s) == std::future_status::ready);
  (*scheduler)->Stop();
  return clock.waits;
}

TEST_CASE("The daemon retries failed passes with backoff, without sleeping", "[scheduler]") {
  testing::MirrorFixture f;
  f.hub.Publish(RepoType::kModel, "acme/model", "main", {},
                {{"config.json", {"{}", false}}, {"model.safetensors", {"weights", true}}});
  // The first two passes fail upstream; the third mirrors; the fourth finds it up to date.
  f.hub.FailNext(Call::kGetRevision, IoError("upstream unreachable"), 2);
  ScheduleConfig config;
  config.interval = 3600s;
  MirrorSpec spec;
  spec.repo = "acme/model";
  config.mirrors = {spec};
  JobBoard board;
  auto counters = std::make_shared<UpstreamCounters>();
  CHECK(RunPasses(f, config, 4, board, counters) ==
        std::vector<std::chrono::seconds>{30s, 60s, 3600s, 3600s});
  CHECK(f.hub.Calls(Call::kGetRevision) == 4);
  CHECK(f.hub.Calls(Call::kListTree) == 1);
  CHECK_FALSE(f.LocalHead("acme/model").empty());
  // Each pass is a job, newest first: two failed ones name the repo and the upstream's error.
  auto jobs = board.List();
  REQUIRE(jobs.size() == 4);
  CHECK(jobs[0].state == api::JobState::kSucceeded);
  CHECK(jobs[0].result["downloaded_files"] == 0);
  CHECK(jobs[1].state == api::JobState::kSucceeded);
  CHECK(jobs[1].result["downloaded_files"] == 2);
  CHECK(jobs[1].progress.done_items == 2);
  CHECK(jobs[1].progress.done_bytes == std::string("{}weights").size());
  for (size_t i : {2, 3}) {
    CHECK(jobs[i].state == api::JobState::kFailed);
    CHECK(jobs[i].trigger == "schedule");
    CHECK(jobs[i].error.find("acme/model") != std::string::npos);
    CHECK(jobs[i].error.find("upstream unreachable") != std::string::npos);
  }
  CHECK(counters->sync_errors == 2);
  CHECK(counters->sync_files == 2);
  CHECK(counters->sync_bytes == std::string("{}weights").size());
}

TEST_CASE("A pattern rule mirrors the upstream repos it matches", "[scheduler]") {
  testing::MirrorFixture f;
  for (const char* repo : {"acme/SmolLM2-135M", "acme/SmolLM2-360M", "acme/other"}) {
    f.hub.Publish(RepoType::kModel, repo, "main", {}, {{"config.json", {repo, false}}});
  }
  ScheduleConfig config;
  MirrorSpec spec;
  spec.repo = "acme/SmolLM2-*";
  config.mirrors = {spec};
  JobBoard board;
  CHECK(RunPasses(f, config, 1, board) == std::vector<std::chrono::seconds>{3600s});
  CHECK_FALSE(f.LocalHead("acme/SmolLM2-135M").empty());
  CHECK_FALSE(f.LocalHead("acme/SmolLM2-360M").empty());
  CHECK(f.LocalHead("acme/other").empty());
}

}  // namespace
}  // namespace hubmirror::sync
