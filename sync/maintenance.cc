#include "sync/maintenance.h"

#include "common/log.h"
#include "registry/registry.h"
#include "sync/job_observer.h"
#include "sync/storage_budget.h"
#include "sync/verify_job.h"

namespace hubmirror::sync {

Maintenance::Maintenance(MaintenanceConfig config, std::filesystem::path registry_path,
                         storage::BlobStore& store, JobBoard& board)
    : registry_path_(std::move(registry_path)),
      store_(store),
      board_(board),
      config_(std::move(config)) {
  for (api::JobKind kind : {api::JobKind::kGc, api::JobKind::kVerify, api::JobKind::kBudget}) {
    threads_.emplace_back([this, kind] { Loop(kind); });
  }
}

Maintenance::~Maintenance() { Stop(); }

void Maintenance::Reconfigure(MaintenanceConfig config) {
  {
    std::lock_guard lock(mutex_);
    config_ = std::move(config);
    ++generation_;
  }
  changed_.notify_all();
}

MaintenanceConfig Maintenance::Config() const {
  std::lock_guard lock(mutex_);
  return config_;
}

void Maintenance::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  for (auto& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
}

MaintenanceStatus Maintenance::Status() const {
  std::lock_guard lock(mutex_);
  return status_;
}

std::optional<std::chrono::seconds> Maintenance::IntervalOf(api::JobKind kind) const {
  switch (kind) {
    case api::JobKind::kGc:
      return config_.gc_interval;
    case api::JobKind::kVerify:
      return config_.verify_interval;
    case api::JobKind::kBudget:
      if (config_.max_store_bytes) return config_.budget_interval;
      return std::nullopt;
    case api::JobKind::kSync:
      break;
  }
  return std::nullopt;
}

void Maintenance::Loop(api::JobKind kind) {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    uint64_t generation = generation_;
    auto interval = IntervalOf(kind);
    auto reconsider = [&] { return stopping_ || generation_ != generation; };
    if (!interval) {
      changed_.wait(lock, reconsider);
      continue;
    }
    if (changed_.wait_for(lock, *interval, reconsider)) continue;
    JobWork work;
    if (kind == api::JobKind::kGc) {
      GcOptions options = config_.gc;
      work = [this, options](JobContext&) { return RunGc(options); };
    } else if (kind == api::JobKind::kVerify) {
      work = [this](JobContext& context) { return RunVerify(context); };
    } else {
      uint64_t max_bytes = *config_.max_store_bytes;
      work = [this, max_bytes](JobContext&) { return RunBudget(max_bytes); };
    }
    lock.unlock();
    board_.Run(kind, "", "schedule", std::move(work));
    lock.lock();
  }
}

JobWork Maintenance::GcWork(GcOptions options) {
  return [this, options](JobContext&) { return RunGc(options); };
}

JobWork Maintenance::VerifyWork() {
  return [this](JobContext& context) { return RunVerify(context); };
}

Result<JobWork> Maintenance::BudgetWork() {
  std::lock_guard lock(mutex_);
  if (!config_.max_store_bytes) {
    return hubmirror::Status(StatusCode::kFailedPrecondition,
                             "no storage budget is set ([storage] max_bytes)");
  }
  uint64_t max_bytes = *config_.max_store_bytes;
  return JobWork([this, max_bytes](JobContext&) { return RunBudget(max_bytes); });
}

Result<nlohmann::json> Maintenance::RunGc(const GcOptions& options) {
  auto registry = registry::Registry::Open(registry_path_, registry::Registry::Mode::kReadWrite);
  Result<GcReport> report = registry.ok() ? CollectGarbage(store_, **registry, options)
                                          : Result<GcReport>(registry.status());
  std::lock_guard lock(mutex_);
  ++status_.gc_runs;
  if (!report.ok()) {
    ++status_.gc_failures;
    Log(LogLevel::kWarning, "gc failed: " + report.status().message());
    return report.status();
  }
  status_.gc_last_seconds = report->seconds;
  if (options.dry_run) return GcReportJson(*report, true);
  status_.gc_freed_blobs += report->blobs;
  status_.gc_freed_bytes += report->bytes();
  if (report->bytes() > 0) {
    Log(LogLevel::kInfo, "gc freed " + std::to_string(report->blobs) + " blobs, " +
                             std::to_string(report->bytes()) + " bytes");
  }
  return GcReportJson(*report, false);
}

Result<nlohmann::json> Maintenance::RunVerify(JobContext& context) {
  VerifyOptions options;
  options.threads = 1;
  options.max_bytes_per_second = Config().verify_max_bytes_per_second;
  options.cancel = &context.cancel();
  JobObserver observer(context);
  auto registry = registry::Registry::Open(registry_path_, registry::Registry::Mode::kReadWrite);
  Result<VerifyReport> report = registry.ok() ? VerifyStore(store_, **registry, options, &observer)
                                              : Result<VerifyReport>(registry.status());
  if (context.cancel()) return IoError("cancelled");
  std::lock_guard lock(mutex_);
  ++status_.verify_runs;
  if (!report.ok()) {
    ++status_.verify_failures;
    Log(LogLevel::kWarning, "verify failed: " + report.status().message());
    return report.status();
  }
  status_.verify_bytes += report->bytes;
  status_.verify_last_seconds = report->seconds;
  for (const auto& problem : report->problems) {
    ++(problem.state == registry::BlobState::kCorrupt ? status_.verify_corrupt
                                                      : status_.verify_missing);
    Log(LogLevel::kWarning, "verify: blob " + problem.sha256 + " " +
                                std::string(registry::BlobStateName(problem.state)) + ": " +
                                problem.detail + "; refused until a sync fetches it again");
  }
  return VerifyReportJson(*report);
}

Result<nlohmann::json> Maintenance::RunBudget(uint64_t max_bytes) {
  auto take_repo_uses = Config().take_repo_uses;
  auto registry = registry::Registry::Open(registry_path_, registry::Registry::Mode::kReadWrite);
  auto report = [&]() -> Result<EvictionReport> {
    if (!registry.ok()) return registry.status();
    if (take_repo_uses) HM_RETURN_IF_ERROR((*registry)->RecordRepoUses(take_repo_uses()));
    return EnforceStorageBudget(store_, **registry, max_bytes);
  }();
  std::lock_guard lock(mutex_);
  if (!report.ok()) {
    ++status_.budget_failures;
    Log(LogLevel::kWarning, "storage budget check failed: " + report.status().message());
    return report.status();
  }
  status_.evicted_blobs += report->blobs;
  status_.evicted_bytes += report->bytes;
  return nlohmann::json{{"blobs", report->blobs},
                        {"bytes", report->bytes},
                        {"stored_bytes", report->stored_bytes},
                        {"repos", report->repos}};
}

}  // namespace hubmirror::sync
