#include "sync/scheduler.h"

#include <fnmatch.h>

#include "common/log.h"
#include "registry/registry.h"
#include "sync/lineage_sync.h"

namespace hubmirror::sync {
namespace {

constexpr std::chrono::seconds kFirstRetryDelay{30};
constexpr std::string_view kGlobCharacters = "*?[";

}  // namespace

bool IsRepoPattern(const std::string& repo) {
  return repo.find_first_of(kGlobCharacters) != std::string::npos;
}

Status ValidateRepoRule(const std::string& repo) {
  if (!IsRepoPattern(repo)) return ValidateRepoId(repo);
  size_t slash = repo.find('/');
  if (slash == std::string::npos || repo.find('/', slash + 1) != std::string::npos ||
      slash + 1 == repo.size()) {
    return InvalidArgument("repo pattern '" + repo + "' must be ORG/GLOB");
  }
  std::string author = repo.substr(0, slash);
  if (IsRepoPattern(author)) {
    return InvalidArgument("repo pattern '" + repo + "': the namespace must be literal");
  }
  return ValidateRepoId(author);
}

Result<std::vector<MirrorSpec>> Scheduler::Expand(const MirrorSpec& rule) {
  if (!IsRepoPattern(rule.repo)) return std::vector<MirrorSpec>{rule};
  auto ids = upstream_->ListRepoIds(rule.type, rule.repo.substr(0, rule.repo.find('/')));
  if (!ids.ok()) return ids.status();
  std::vector<MirrorSpec> specs;
  for (const auto& id : *ids) {
    if (::fnmatch(rule.repo.c_str(), id.c_str(), FNM_PATHNAME) != 0) continue;
    MirrorSpec spec = rule;
    spec.repo = id;
    specs.push_back(std::move(spec));
  }
  return specs;
}

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
    std::vector<MirrorSpec> mirrors;
    for (const auto& rule : config_.mirrors) {
      auto expanded = Expand(rule);
      if (!expanded.ok()) {
        failed = true;
        Log(LogLevel::kWarning, "cannot expand mirror rule " + rule.repo + " against " +
                                    upstream_->Name() + ": " + expanded.status().message());
        continue;
      }
      mirrors.insert(mirrors.end(), expanded->begin(), expanded->end());
    }
    // Upstream data is untrusted: nothing it holds may end the daemon's thread.
    LineagePlan plan;
    try {
      plan = PlanAlongLineage(*upstream_, **registry, mirrors);
    } catch (const std::exception& e) {
      failed = true;
      plan.jobs = mirrors;
      Log(LogLevel::kWarning, std::string("lineage not followed: ") + e.what());
    }
    for (const auto& problem : plan.problems) {
      failed = true;
      Log(LogLevel::kWarning, problem.message());
    }
    for (const auto& mirror : plan.jobs) {
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
