#include "sync/scheduler.h"

#include "common/log.h"
#include "registry/registry.h"

namespace hubmirror::sync {
namespace {

// Logs what a daemon pass does: failures always, a repo only when it changed.
class LoggingListener : public MirrorPassListener {
 public:
  LoggingListener(const std::string& upstream, const std::atomic<bool>& stopping)
      : upstream_(upstream), stopping_(stopping) {}
  void OnProblem(const Status& problem) override { Log(LogLevel::kWarning, problem.message()); }
  void OnRelativesRecorded(size_t count) override {
    Log(LogLevel::kInfo, "lineage: recorded " + std::to_string(count) + " relatives without files");
  }
  void OnRefsDeleted(const MirrorSpec& rule, const std::vector<RefName>& refs) override {
    Log(LogLevel::kInfo, DeletedRefsMessage(rule, refs));
  }
  std::unique_ptr<MirrorObserver> ObserveJob(const MirrorSpec&) override { return nullptr; }
  void OnJobDone(const MirrorSpec& job, const Result<MirrorReport>& report) override {
    std::string label = std::string(RepoTypeName(job.type)) + " " + job.repo + "@" + job.revision +
                        " from " + upstream_;
    if (!report.ok()) {
      // A stop interrupts the download in progress: not a failure worth a line.
      if (!stopping_) {
        Log(LogLevel::kWarning, "sync of " + label + " failed: " + report.status().message());
      }
    } else if (!report->up_to_date) {
      Log(LogLevel::kInfo, "synced " + label + " at " + report->commit_id + ": downloaded " +
                               std::to_string(report->downloaded_files) + " files (" +
                               std::to_string(report->downloaded_bytes) + " bytes)");
    }
  }

 private:
  std::string upstream_;
  const std::atomic<bool>& stopping_;
};

}  // namespace

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
                                                    storage::BlobStore& store, WaitFunction wait) {
  if (upstream == nullptr) return InvalidArgument("the scheduler needs an upstream");
  std::unique_ptr<Scheduler> scheduler(new Scheduler(
      std::move(config), std::move(upstream), std::move(registry_path), store, std::move(wait)));
  if (!scheduler->wait_) {
    scheduler->wait_ = [raw = scheduler.get()](std::chrono::seconds duration) {
      return raw->SleepUnlessStopped(duration);
    };
  }
  scheduler->thread_ = std::thread([raw = scheduler.get()] { raw->Run(); });
  return scheduler;
}

Scheduler::~Scheduler() { Stop(); }

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
  return !wake_.wait_for(lock, duration, [this] { return stopping_.load(); });
}

void Scheduler::Run() {
  auto registry = registry::Registry::Open(registry_path_, registry::Registry::Mode::kReadWrite);
  if (!registry.ok()) {
    Log(LogLevel::kError, "scheduled sync disabled: " + registry.status().message());
    return;
  }
  RetrySchedule schedule(config_.interval);
  LoggingListener listener(upstream_->Name(), stopping_);
  while (!stopping_) {
    size_t failures =
        RunMirrorPass(*upstream_, store_, **registry, config_.mirrors, listener, &stopping_);
    if (stopping_) break;
    std::chrono::seconds wait = schedule.After(failures > 0);
    if (failures > 0) {
      Log(LogLevel::kInfo, "next sync attempt in " + std::to_string(wait.count()) + " s");
    }
    if (!wait_(wait)) break;
  }
}

}  // namespace hubmirror::sync
