#include "sync/scheduler.h"

#include "common/log.h"
#include "registry/registry.h"

namespace hubmirror::sync {
namespace {

constexpr std::chrono::seconds kFirstRetryDelay{30};

}  // namespace

Result<std::unique_ptr<Scheduler>> Scheduler::Start(ScheduleConfig config,
                                                    std::filesystem::path registry_path,
                                                    storage::BlobStore& store) {
  std::unique_ptr<Scheduler> scheduler(
      new Scheduler(std::move(config), std::move(registry_path), store));
  auto upstream = CurlUpstreamHub::Create(scheduler->config_.upstream);
  if (!upstream.ok()) return upstream.status();
  scheduler->upstream_ = std::move(upstream.value());
  for (auto& mirror : scheduler->config_.mirrors) mirror.cancel = &scheduler->stopping_;
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

void Scheduler::Run() {
  auto registry = registry::Registry::Open(registry_path_, registry::Registry::Mode::kReadWrite);
  if (!registry.ok()) {
    Log(LogLevel::kError, "scheduled sync disabled: " + registry.status().message());
    return;
  }
  std::chrono::seconds retry_delay = kFirstRetryDelay;
  while (!stopping_) {
    bool failed = false;
    for (const auto& mirror : config_.mirrors) {
      if (stopping_) break;
      std::string label = std::string(RepoTypeName(mirror.type)) + " " + mirror.repo + "@" +
                          mirror.revision + " from " + upstream_->Name();
      auto report = MirrorRepo(*upstream_, store_, **registry, mirror);
      if (!report.ok()) {
        failed = true;
        if (!stopping_)
          Log(LogLevel::kWarning, "sync of " + label + " failed: " + report.status().message());
      } else if (!report->up_to_date) {
        Log(LogLevel::kInfo, "synced " + label + " at " + report->commit_id + ": downloaded " +
                                 std::to_string(report->downloaded_files) + " files (" +
                                 std::to_string(report->downloaded_bytes) + " bytes)");
      }
    }
    std::chrono::seconds wait = config_.interval;
    if (failed) {
      wait = std::min(retry_delay, config_.interval);
      retry_delay = std::min(retry_delay * 2, config_.interval);
      if (!stopping_)
        Log(LogLevel::kInfo, "next sync attempt in " + std::to_string(wait.count()) + " s");
    } else {
      retry_delay = kFirstRetryDelay;
    }
    std::unique_lock lock(mutex_);
    wake_.wait_for(lock, wait, [this] { return stopping_.load(); });
  }
}

}  // namespace hubmirror::sync
