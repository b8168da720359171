#include "sync/maintenance.h"

#include "common/log.h"
#include "registry/registry.h"
#include "sync/storage_budget.h"
#include "sync/verify_job.h"

namespace hubmirror::sync {

Maintenance::Maintenance(MaintenanceConfig config, std::filesystem::path registry_path,
                         storage::BlobStore& store)
    : config_(std::move(config)), registry_path_(std::move(registry_path)), store_(store) {
  if (config_.gc_interval) {
    threads_.emplace_back([this] { Loop(*config_.gc_interval, &Maintenance::RunGc); });
  }
  if (config_.verify_interval) {
    threads_.emplace_back([this] { Loop(*config_.verify_interval, &Maintenance::RunVerify); });
  }
  if (config_.max_store_bytes) {
    threads_.emplace_back([this] { Loop(config_.budget_interval, &Maintenance::RunBudget); });
  }
}

Maintenance::~Maintenance() { Stop(); }

void Maintenance::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  stopped_.notify_all();
  for (auto& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
}

MaintenanceStatus Maintenance::Status() const {
  std::lock_guard lock(mutex_);
  return status_;
}

void Maintenance::Loop(std::chrono::seconds interval, void (Maintenance::*job)()) {
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      if (stopped_.wait_for(lock, interval, [this] { return stopping_.load(); })) return;
    }
    (this->*job)();
  }
}

void Maintenance::RunGc() {
  auto registry = registry::Registry::Open(registry_path_, registry::Registry::Mode::kReadWrite);
  Result<GcReport> report = registry.ok() ? CollectGarbage(store_, **registry, config_.gc)
                                          : Result<GcReport>(registry.status());
  std::lock_guard lock(mutex_);
  ++status_.gc_runs;
  if (!report.ok()) {
    ++status_.gc_failures;
    Log(LogLevel::kWarning, "scheduled gc failed: " + report.status().message());
    return;
  }
  status_.gc_freed_blobs += report->blobs;
  status_.gc_freed_bytes += report->bytes();
  status_.gc_last_seconds = report->seconds;
  if (report->bytes() > 0) {
    Log(LogLevel::kInfo, "gc freed " + std::to_string(report->blobs) + " blobs, " +
                             std::to_string(report->bytes()) + " bytes");
  }
}

void Maintenance::RunVerify() {
  VerifyOptions options;
  options.threads = 1;
  options.max_bytes_per_second = config_.verify_max_bytes_per_second;
  options.cancel = &stopping_;
  auto registry = registry::Registry::Open(registry_path_, registry::Registry::Mode::kReadWrite);
  Result<VerifyReport> report = registry.ok() ? VerifyStore(store_, **registry, options, nullptr)
                                              : Result<VerifyReport>(registry.status());
  if (stopping_) return;
  std::lock_guard lock(mutex_);
  ++status_.verify_runs;
  if (!report.ok()) {
    ++status_.verify_failures;
    Log(LogLevel::kWarning, "scheduled verify failed: " + report.status().message());
    return;
  }
  status_.verify_bytes += report->bytes;
  status_.verify_last_seconds = report->seconds;
  for (const auto& problem : report->problems) {
    ++(problem.state == registry::BlobState::kCorrupt ? status_.verify_corrupt
                                                      : status_.verify_missing);
    Log(LogLevel::kWarning, "scheduled verify: blob " + problem.sha256 + " " +
                                std::string(registry::BlobStateName(problem.state)) + ": " +
                                problem.detail + "; refused until a sync fetches it again");
  }
}

void Maintenance::RunBudget() {
  auto registry = registry::Registry::Open(registry_path_, registry::Registry::Mode::kReadWrite);
  auto report = [&]() -> Result<EvictionReport> {
    if (!registry.ok()) return registry.status();
    if (config_.take_repo_uses) {
      HM_RETURN_IF_ERROR((*registry)->RecordRepoUses(config_.take_repo_uses()));
    }
    return EnforceStorageBudget(store_, **registry, *config_.max_store_bytes);
  }();
  std::lock_guard lock(mutex_);
  if (!report.ok()) {
    ++status_.budget_failures;
    Log(LogLevel::kWarning, "storage budget check failed: " + report.status().message());
    return;
  }
  status_.evicted_blobs += report->blobs;
  status_.evicted_bytes += report->bytes;
}

}  // namespace hubmirror::sync
