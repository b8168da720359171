#include "sync/scheduler.h"

#include "common/log.h"
#include "registry/registry.h"
#include "sync/job_observer.h"

namespace hubmirror::sync {
namespace {

// A pass's problems at most, in a failed job's error; the log has them all.
constexpr size_t kProblemsShown = 20;

// Logs what a pass does (failures always, a repo only when it changed), and feeds its job's
// progress, outcome and the upstream's counters.
class PassListener : public MirrorPassListener {
 public:
  PassListener(const std::string& upstream, JobContext& context, UpstreamCounters* counters)
      : upstream_(upstream), context_(context), counters_(counters) {}

  void OnProblem(const Status& problem) override {
    Log(LogLevel::kWarning, problem.message());
    AddProblem(problem.message());
  }
  void OnRelativesRecorded(size_t count) override {
    Log(LogLevel::kInfo, "lineage: recorded " + std::to_string(count) + " relatives without files");
  }
  void OnRefsDeleted(const MirrorSpec& rule, const std::vector<RefName>& refs) override {
    Log(LogLevel::kInfo, DeletedRefsMessage(rule, refs));
  }
  std::unique_ptr<MirrorObserver> ObserveJob(const MirrorSpec&) override {
    return std::make_unique<JobObserver>(context_);
  }
  void OnJobDone(const MirrorSpec& job, const Result<MirrorReport>& report) override {
    std::string label = std::string(RepoTypeName(job.type)) + " " + job.repo + "@" + job.revision +
                        " from " + upstream_;
    ++repos_;
    if (!report.ok()) {
      // A cancel interrupts the download in progress: not a failure worth a line.
      if (context_.cancel()) return;
      if (counters_ != nullptr) ++counters_->sync_errors;
      std::string line = "sync of " + label + " failed: " + report.status().message();
      Log(LogLevel::kWarning, line);
      AddProblem(line);
      return;
    }
    downloaded_files_ += report->downloaded_files;
    downloaded_bytes_ += report->downloaded_bytes;
    if (counters_ != nullptr) {
      counters_->sync_files += report->downloaded_files;
      counters_->sync_bytes += report->downloaded_bytes;
    }
    if (!report->up_to_date) {
      Log(LogLevel::kInfo, "synced " + label + " at " + report->commit_id + ": downloaded " +
                               std::to_string(report->downloaded_files) + " files (" +
                               std::to_string(report->downloaded_bytes) + " bytes)");
    }
  }

  Result<nlohmann::json> Outcome(size_t failures) const {
    if (failures > 0) {
      std::string error = std::to_string(failures) + " problems in this pass:";
      for (const auto& line : problems_) error += "\n" + line;
      if (failures > problems_.size()) error += "\n(the others are in the log)";
      return IoError(error);
    }
    return nlohmann::json{{"repos", repos_},
                          {"downloaded_files", downloaded_files_},
                          {"downloaded_bytes", downloaded_bytes_}};
  }

 private:
  void AddProblem(std::string line) {
    if (problems_.size() < kProblemsShown) problems_.push_back(std::move(line));
  }

  std::string upstream_;
  JobContext& context_;
  UpstreamCounters* counters_;
  size_t repos_ = 0;
  size_t downloaded_files_ = 0;
  uint64_t downloaded_bytes_ = 0;
  std::vector<std::string> problems_;
};

}  // namespace

JobWork MirrorPassWork(std::shared_ptr<UpstreamHub> upstream, std::filesystem::path registry_path,
                       storage::BlobStore& store, std::vector<MirrorSpec> rules,
                       std::shared_ptr<UpstreamCounters> counters) {
  return [upstream = std::move(upstream), registry_path = std::move(registry_path), &store,
          rules = std::move(rules),
          counters = std::move(counters)](JobContext& context) -> Result<nlohmann::json> {
    auto registry = registry::Registry::Open(registry_path, registry::Registry::Mode::kReadWrite);
    if (!registry.ok()) return registry.status();
    PassListener listener(upstream->Name(), context, counters.get());
    size_t failures =
        RunMirrorPass(*upstream, store, **registry, rules, listener, &context.cancel());
    return listener.Outcome(failures);
  };
}

std::chrono::seconds RetrySchedule::After(bool failed) {
  if (!failed) {
    retry_delay_ = kFirstRetryDelay;
    return interval_;
  }
  std::chrono::seconds wait = std::min(retry_delay_, interval_);
  retry_delay_ = std::min(retry_delay_ * 2, interval_);
  return wait;
}

Result<std::unique_ptr<Scheduler>> Scheduler::Start(ScheduleConfig config,
                                                    std::shared_ptr<UpstreamHub> upstream,
                                                    std::filesystem::path registry_path,
                                                    storage::BlobStore& store, JobBoard& board,
                                                    std::shared_ptr<UpstreamCounters> counters,
                                                    WaitFunction wait) {
  if (upstream == nullptr) return InvalidArgument("the scheduler needs an upstream");
  std::unique_ptr<Scheduler> scheduler(new Scheduler(std::move(config), std::move(upstream),
                                                     std::move(registry_path), store, board,
                                                     std::move(counters), std::move(wait)));
  if (!scheduler->wait_) {
    scheduler->wait_ = [raw = scheduler.get()](std::chrono::seconds duration) {
      return raw->SleepUnlessStopped(duration);
    };
  }
  scheduler->thread_ = std::thread([raw = scheduler.get()] { raw->Run(); });
  return scheduler;
}

Scheduler::~Scheduler() { Stop(); }

void Scheduler::Reconfigure(ScheduleConfig config, std::shared_ptr<UpstreamHub> upstream) {
  {
    std::lock_guard lock(mutex_);
    config_ = std::move(config);
    upstream_ = std::move(upstream);
    reconfigured_ = true;
  }
  wake_.notify_all();
}

void Scheduler::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool Scheduler::SleepUnlessStopped(std::chrono::seconds duration) {
  std::unique_lock lock(mutex_);
  wake_.wait_for(lock, duration, [this] { return stopping_ || reconfigured_; });
  return !stopping_;
}

void Scheduler::Run() {
  std::optional<RetrySchedule> schedule;
  for (;;) {
    ScheduleConfig config;
    std::shared_ptr<UpstreamHub> upstream;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      if (reconfigured_ || !schedule) schedule.emplace(config_.interval);
      reconfigured_ = false;
      config = config_;
      upstream = upstream_;
    }
    bool failed = false;
    if (upstream && !config.mirrors.empty()) {
      api::JobView pass =
          board_.Run(api::JobKind::kSync, "every rule", "schedule",
                     MirrorPassWork(upstream, registry_path_, store_, config.mirrors, counters_));
      failed = pass.state == api::JobState::kFailed;
    }
    std::chrono::seconds wait = schedule->After(failed);
    if (failed) Log(LogLevel::kInfo, "next sync attempt in " + std::to_string(wait.count()) + " s");
    if (!wait_(wait)) return;
  }
}

}  // namespace hubmirror::sync
