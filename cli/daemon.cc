#include "cli/daemon.h"

#include <set>

#include "cli/effective_config.h"
#include "common/log.h"
#include "sync/curl_upstream_hub.h"
#include "sync/mirror_pass.h"

namespace hubmirror::cli {
namespace {

using nlohmann::json;

// Tables whose changes a reload cannot apply: pull-through serves requests in flight.
const std::set<std::string> kRestartOnly = {"pull_through", "blob_store"};
// Tables the sync schedule follows (the budget limits what a rule's sync may add).
const std::set<std::string> kScheduleTables = {"upstream", "schedule", "sync", "mirror", "storage"};
// Tables upkeep follows.
const std::set<std::string> kUpkeepTables = {"gc", "verify", "storage"};

// Pull-through asks the upstream while a client waits: a failure must come back in seconds (one
// retry, short timeouts; hub-protocol §2.7: clients give up after 10 s without a byte), and a
// 429 is not slept on but shared by every request until its time has passed.
Result<std::shared_ptr<sync::UpstreamPullThrough>> StartPullThrough(
    const sync::PullThroughPolicy& policy, sync::UpstreamOptions upstream,
    storage::BlobStore& store, const std::filesystem::path& data_dir) {
  upstream.max_attempts = 2;
  upstream.connect_timeout_seconds = 5;
  upstream.stall_timeout_seconds = 8;
  // Several fills at once each keep a chunk per range helper in memory: smaller chunks keep the
  // server's memory flat however many clients start fills.
  upstream.range_chunk_bytes = 4u << 20;
  upstream.rate_limited_until_ms = std::make_shared<std::atomic<int64_t>>(0);
  auto hub = sync::CurlUpstreamHub::Create(upstream);
  if (!hub.ok()) return hub.status();
  Log(LogLevel::kInfo,
      "pulling through from " + (*hub)->Name() + " what clients ask for (" +
          std::to_string(policy.allow.size()) + " allow and " + std::to_string(policy.deny.size()) +
          " deny patterns, metadata trusted " + std::to_string(policy.max_age.count()) + " s)");
  return std::make_shared<sync::UpstreamPullThrough>(
      policy, std::move(hub.value()), upstream.rate_limited_until_ms, upstream.counters, store,
      data_dir / "registry.db", data_dir / "tmp");
}

// The daemon's upkeep for /metrics.
std::vector<api::MetricSample> MaintenanceSamples(const sync::MaintenanceStatus& status) {
  auto count = [](uint64_t value) { return static_cast<double>(value); };
  return {
      api::Counter("hubmirror_gc_runs_total", "Garbage collections run (scheduled or by admins).",
                   count(status.gc_runs)),
      api::Counter("hubmirror_gc_failures_total", "Garbage collections that failed.",
                   count(status.gc_failures)),
      api::Counter("hubmirror_gc_freed_blobs_total", "Blobs removed by garbage collection.",
                   count(status.gc_freed_blobs)),
      api::Counter("hubmirror_gc_freed_bytes_total",
                   "Bytes freed by garbage collection (blobs, temporary files, quarantine).",
                   count(status.gc_freed_bytes)),
      api::Gauge("hubmirror_gc_last_duration_seconds", "How long the last garbage collection took.",
                 status.gc_last_seconds),
      api::Counter("hubmirror_verify_runs_total", "Scrubs (verify) run to the end.",
                   count(status.verify_runs)),
      api::Counter("hubmirror_verify_failures_total", "Scrubs that failed.",
                   count(status.verify_failures)),
      api::Counter("hubmirror_verify_bytes_total", "Bytes read and hashed by scrubs.",
                   count(status.verify_bytes)),
      api::Counter("hubmirror_verify_corrupt_blobs_total",
                   "Blobs scrubs found corrupt (quarantined, refused until repaired).",
                   count(status.verify_corrupt)),
      api::Counter("hubmirror_verify_missing_blobs_total", "Blobs scrubs found missing.",
                   count(status.verify_missing)),
      api::Gauge("hubmirror_verify_last_duration_seconds", "How long the last scrub took.",
                 status.verify_last_seconds),
      api::Counter("hubmirror_budget_evicted_blobs_total",
                   "Pulled-through blobs evicted to keep the store within [storage] max_bytes.",
                   count(status.evicted_blobs)),
      api::Counter("hubmirror_budget_evicted_bytes_total",
                   "Bytes evicted to keep the store within [storage] max_bytes.",
                   count(status.evicted_bytes)),
      api::Counter("hubmirror_budget_failures_total", "Storage budget checks that failed.",
                   count(status.budget_failures)),
  };
}

// One upstream's counters for /metrics, labelled with its URL (the config names a bounded set).
void AddUpstreamSamples(const std::string& url, const sync::UpstreamCounters& counters,
                        std::vector<api::MetricSample>* samples) {
  std::string label = "upstream=\"" + api::EscapeLabelValue(url) + "\"";
  auto add = [&](const char* name, const char* help, uint64_t value) {
    samples->push_back(api::Counter(name, help, static_cast<double>(value), label));
  };
  add("hubmirror_upstream_requests_total", "HTTP requests sent to the upstream, retries included.",
      counters.requests);
  add("hubmirror_upstream_retries_total", "Requests to the upstream tried again after a failure.",
      counters.retries);
  add("hubmirror_upstream_errors_total", "Requests to the upstream that failed for good.",
      counters.failures);
  add("hubmirror_sync_files_total", "Files downloaded, verified and stored by syncs.",
      counters.sync_files);
  add("hubmirror_sync_bytes_total", "Bytes downloaded by syncs.", counters.sync_bytes);
  add("hubmirror_sync_errors_total", "Repo syncs that failed.", counters.sync_errors);
  add("hubmirror_fill_files_total", "Files pull-through fetched, verified and stored for clients.",
      counters.fill_files);
  add("hubmirror_fill_bytes_total", "Bytes pull-through fetched for clients.", counters.fill_bytes);
  add("hubmirror_fill_errors_total", "Pull-through fills that failed.", counters.fill_errors);
  int64_t remaining = counters.rate_limit_remaining;
  if (remaining >= 0) {
    samples->push_back(api::Gauge("hubmirror_upstream_rate_limit_remaining",
                                  "Requests the upstream's last RateLimit header allowed.",
                                  static_cast<double>(remaining), label));
  }
}

// Every job's gauge: how many of each kind run or wait now.
void AddJobSamples(const std::vector<api::JobView>& jobs, std::vector<api::MetricSample>* samples) {
  for (api::JobKind kind :
       {api::JobKind::kSync, api::JobKind::kGc, api::JobKind::kVerify, api::JobKind::kBudget}) {
    for (api::JobState state : {api::JobState::kRunning, api::JobState::kQueued}) {
      double count = 0;
      for (const auto& job : jobs) count += job.kind == kind && job.state == state ? 1 : 0;
      samples->push_back(api::Gauge("hubmirror_jobs", "Jobs running or queued now, by kind.", count,
                                    "kind=\"" + std::string(api::JobKindName(kind)) +
                                        "\",state=\"" + std::string(api::JobStateName(state)) +
                                        "\""));
    }
  }
}

}  // namespace

Result<std::shared_ptr<Daemon>> Daemon::Start(std::filesystem::path config_file,
                                              DaemonConfig config, std::filesystem::path data_dir,
                                              storage::BlobStore& store,
                                              std::shared_ptr<api::AccessServices> access) {
  std::shared_ptr<Daemon> daemon(
      new Daemon(std::move(config_file), std::move(data_dir), store, std::move(access)));
  std::lock_guard lock(daemon->mutex_);
  if (config.pull_through) {
    sync::UpstreamOptions upstream = config.schedule.upstream;
    upstream.counters = daemon->CountersFor(upstream.base_url);
    auto pulling = StartPullThrough(*config.pull_through, upstream, store, daemon->data_dir_);
    if (!pulling.ok()) return pulling.status();
    daemon->pull_through_ = std::move(pulling.value());
  }
  daemon->publisher_ =
      std::make_shared<sync::RegistryPublisher>(store, daemon->data_dir_ / "registry.db");
  daemon->publisher_->SetLimits(config.publishing);
  daemon->maintenance_ = std::make_unique<sync::Maintenance>(
      daemon->Upkeep(config.upkeep), daemon->data_dir_ / "registry.db", store, daemon->board_);
  HM_RETURN_IF_ERROR(daemon->ApplySchedule(config.schedule));
  daemon->config_ = std::move(config);
  return daemon;
}

Daemon::~Daemon() { Stop(); }

void Daemon::Stop() {
  board_.Stop();
  std::lock_guard lock(mutex_);
  if (scheduler_) scheduler_->Stop();
  if (maintenance_) maintenance_->Stop();
}

std::shared_ptr<sync::UpstreamCounters> Daemon::CountersFor(const std::string& url) {
  auto& counters = counters_[url];
  if (!counters) counters = std::make_shared<sync::UpstreamCounters>();
  return counters;
}

sync::MaintenanceConfig Daemon::Upkeep(sync::MaintenanceConfig upkeep) const {
  if (pull_through_) {
    upkeep.take_repo_uses = [pulling = pull_through_] { return pulling->TakeRepoUses(); };
  }
  return upkeep;
}

Status Daemon::ApplySchedule(const sync::ScheduleConfig& schedule) {
  std::shared_ptr<sync::UpstreamHub> upstream;
  if (!schedule.upstream.base_url.empty()) {
    sync::UpstreamOptions options = schedule.upstream;
    options.counters = CountersFor(options.base_url);
    auto hub = sync::CurlUpstreamHub::Create(options);
    if (!hub.ok()) return hub.status();
    upstream = std::move(hub.value());
  }
  sync_upstream_ = upstream;
  if (scheduler_) {
    scheduler_->Reconfigure(schedule, upstream);
  } else if (upstream && !schedule.mirrors.empty()) {
    Log(LogLevel::kInfo, "syncing " + std::to_string(schedule.mirrors.size()) + " repos from " +
                             schedule.upstream.base_url + " every " +
                             std::to_string(schedule.interval.count()) + " s");
    auto started = sync::Scheduler::Start(schedule, upstream, data_dir_ / "registry.db", store_,
                                          board_, CountersFor(schedule.upstream.base_url));
    if (!started.ok()) return started.status();
    scheduler_ = std::move(started.value());
  }
  return Status::Ok();
}

Result<api::JobView> Daemon::StartSync(const api::JobRequest& request) {
  std::lock_guard lock(mutex_);
  const sync::ScheduleConfig& schedule = config_.schedule;
  if (!sync_upstream_) {
    return Status(StatusCode::kFailedPrecondition, "no [upstream] is configured to sync from");
  }
  std::vector<sync::MirrorSpec> rules;
  std::string target;
  if (request.rule) {
    for (size_t i = 0; i < schedule.mirrors.size(); ++i) {
      if (schedule.rule_numbers[i] == *request.rule) rules.push_back(schedule.mirrors[i]);
    }
    if (rules.empty()) {
      return InvalidArgument(
          "no rule " + std::to_string(*request.rule) + ": the config has " +
          std::to_string(schedule.rule_numbers.empty() ? 0 : schedule.rule_numbers.back()) +
          " [[mirror]] rules");
    }
    target = "rule " + std::to_string(*request.rule) + ": " +
             std::string(RepoTypeName(rules[0].type)) + " " + rules[0].repo;
  } else if (!request.repo.empty()) {
    if (!request.revision.empty()) HM_RETURN_IF_ERROR(sync::ValidateRevisionRule(request.revision));
    for (const auto& rule : schedule.mirrors) {
      if (!sync::RuleCovers(rule, request.type, request.repo)) continue;
      if (!request.revision.empty() && !rules.empty()) break;  // one job for one revision
      sync::MirrorSpec spec = rule;
      spec.repo = request.repo;
      if (!request.revision.empty()) {
        spec.revision = request.revision;
        spec.ref.reset();
      }
      rules.push_back(std::move(spec));
    }
    if (rules.empty()) {
      // A repo no rule names is synced once, as `hubmirror sync` would, within the budget.
      sync::MirrorSpec spec;
      spec.type = request.type;
      spec.repo = request.repo;
      spec.revision = request.revision.empty() ? "main" : request.revision;
      spec.max_store_bytes = config_.upkeep.max_store_bytes;
      rules.push_back(std::move(spec));
    }
    target = std::string(RepoTypeName(request.type)) + " " + request.repo +
             (request.revision.empty() ? "" : "@" + request.revision);
  } else {
    if (schedule.mirrors.empty()) return InvalidArgument("the config has no [[mirror]] rules");
    rules = schedule.mirrors;
    target = "every rule";
  }
  return board_.Submit(
      api::JobKind::kSync, std::move(target), request.trigger,
      sync::MirrorPassWork(sync_upstream_, data_dir_ / "registry.db", store_, std::move(rules),
                           CountersFor(schedule.upstream.base_url)));
}

Result<api::JobView> Daemon::StartJob(const api::JobRequest& request) {
  switch (request.kind) {
    case api::JobKind::kSync:
      return StartSync(request);
    case api::JobKind::kGc: {
      sync::GcOptions options = maintenance_->Config().gc;
      options.dry_run = request.dry_run;
      if (request.grace_seconds) options.grace = std::chrono::seconds(*request.grace_seconds);
      return board_.Submit(api::JobKind::kGc, request.dry_run ? "dry run" : "", request.trigger,
                           maintenance_->GcWork(options));
    }
    case api::JobKind::kVerify:
      return board_.Submit(api::JobKind::kVerify, "", request.trigger, maintenance_->VerifyWork());
    case api::JobKind::kBudget: {
      auto work = maintenance_->BudgetWork();
      if (!work.ok()) return work.status();
      return board_.Submit(api::JobKind::kBudget, "", request.trigger, std::move(work.value()));
    }
  }
  return InvalidArgument("unknown job kind");
}

Result<json> Daemon::Reload() {
  if (config_file_.empty()) {
    return Status(StatusCode::kFailedPrecondition,
                  "the server was started without --config: there is nothing to reload");
  }
  auto loaded = LoadDaemonConfig(config_file_);
  if (!loaded.ok()) {
    Log(LogLevel::kWarning, "config not reloaded: " + loaded.status().message());
    return loaded.status();
  }
  std::lock_guard lock(mutex_);
  json before = EffectiveConfigJson(config_file_, config_);
  json after = EffectiveConfigJson(config_file_, *loaded);
  json applied = json::array();
  json restart = json::array();
  for (const auto& [table, value] : after.items()) {
    if (before[table] == value) continue;
    (kRestartOnly.count(table) ? restart : applied).push_back(table);
  }
  // Whether any of `tables` changed: the schedule and upkeep start their waits over when
  // reconfigured, so an unchanged one is left alone (a reload that changes no rule starts no pass).
  auto changed = [&applied](const std::set<std::string>& tables) {
    for (const auto& table : applied) {
      if (tables.count(table.get<std::string>()) > 0) return true;
    }
    return false;
  };
  if (changed(kScheduleTables)) HM_RETURN_IF_ERROR(ApplySchedule(loaded->schedule));
  access_->SetPolicy(loaded->access);
  publisher_->SetLimits(loaded->publishing);
  if (changed(kUpkeepTables)) maintenance_->Reconfigure(Upkeep(loaded->upkeep));
  // Pull-through and the blob store stay as they started; the effective config says so until a
  // restart.
  loaded->pull_through = config_.pull_through;
  loaded->storage = config_.storage;
  config_ = std::move(loaded.value());
  Log(LogLevel::kInfo, "config reloaded from " + config_file_.string() + ": changed " +
                           (applied.empty() ? std::string("nothing") : applied.dump()) +
                           (restart.empty() ? "" : "; needs a restart: " + restart.dump()));
  return json{{"reloaded", true}, {"applied", applied}, {"restart_needed", restart}};
}

json Daemon::EffectiveConfig() const {
  std::lock_guard lock(mutex_);
  return EffectiveConfigJson(config_file_, config_);
}

std::vector<api::MetricSample> Daemon::Samples() const {
  std::vector<api::MetricSample> samples = MaintenanceSamples(maintenance_->Status());
  AddJobSamples(board_.List(), &samples);
  std::lock_guard lock(mutex_);
  for (const auto& [url, counters] : counters_) AddUpstreamSamples(url, *counters, &samples);
  return samples;
}

}  // namespace hubmirror::cli
