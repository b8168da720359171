#include <sys/resource.h>

#include <iostream>
#include <optional>

#include "api/access.h"
#include "api/server.h"
#include "cli/commands.h"
#include "cli/config_file.h"
#include "common/log.h"
#include "registry/registry.h"
#include "storage/local_blob_store.h"
#include "sync/curl_upstream_hub.h"
#include "sync/maintenance.h"
#include "sync/pull_through.h"

namespace hubmirror::cli {
namespace {

struct ServeArgs {
  std::string listen = "127.0.0.1:8080";
  unsigned threads = 0;
  std::string config;
  bool verify_on_read = false;
  std::string log_format = "text";
  size_t max_connections_per_address = api::ServerOptions().max_connections_per_address;
  size_t max_requests_per_address = api::ServerOptions().max_requests_per_address;
};

// Raises the soft limit on open files to the hard one: each connection holds a socket and, while
// it sends a file, that file, so the usual soft limit of 1024 is below what the server's
// connection limit needs. Warns when even the hard limit is.
void RaiseFileLimit(size_t max_connections) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  // A socket and a file per connection, and a few for the listener, the registry and the log.
  rlim_t needed = 2 * max_connections + 64;
  if (limit.rlim_cur < needed) {
    Log(LogLevel::kWarning, "only " + std::to_string(limit.rlim_cur) +
                                " open files allowed (ulimit -n), fewer than the " +
                                std::to_string(needed) + " that " +
                                std::to_string(max_connections) +
                                " connections may need: new connections may fail under load");
  }
}

// Splits HOST:PORT, with IPv6 hosts in brackets ("[::1]:8080").
Status ParseListen(const std::string& text, api::ServerOptions* options) {
  size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon + 1 == text.size()) {
    return InvalidArgument("--listen must be HOST:PORT, got '" + text + "'");
  }
  std::string host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  unsigned long port = 0;
  try {
    size_t used = 0;
    port = std::stoul(text.substr(colon + 1), &used);
    if (used != text.size() - colon - 1 || port > 65535) throw std::out_of_range("port");
  } catch (const std::exception&) {
    return InvalidArgument("--listen port must be 0-65535, got '" + text.substr(colon + 1) + "'");
  }
  options->host = host;
  options->port = static_cast<uint16_t>(port);
  return Status::Ok();
}

// The daemon's upkeep for /metrics.
std::vector<api::MetricSample> MaintenanceSamples(const sync::MaintenanceStatus& status) {
  return {
      api::Counter("hubmirror_gc_runs_total", "Scheduled garbage collections run.",
                   static_cast<double>(status.gc_runs)),
      api::Counter("hubmirror_gc_failures_total", "Scheduled garbage collections that failed.",
                   static_cast<double>(status.gc_failures)),
      api::Counter("hubmirror_gc_freed_blobs_total",
                   "Blobs removed by scheduled garbage collection.",
                   static_cast<double>(status.gc_freed_blobs)),
      api::Counter(
          "hubmirror_gc_freed_bytes_total",
          "Bytes freed by scheduled garbage collection (blobs, temporary files, quarantine).",
          static_cast<double>(status.gc_freed_bytes)),
      api::Gauge("hubmirror_gc_last_duration_seconds", "How long the last garbage collection took.",
                 status.gc_last_seconds),
      api::Counter("hubmirror_verify_runs_total", "Scheduled scrubs (verify) run to the end.",
                   static_cast<double>(status.verify_runs)),
      api::Counter("hubmirror_verify_failures_total", "Scheduled scrubs that failed.",
                   static_cast<double>(status.verify_failures)),
      api::Counter("hubmirror_verify_bytes_total", "Bytes read and hashed by scheduled scrubs.",
                   static_cast<double>(status.verify_bytes)),
      api::Counter("hubmirror_verify_corrupt_blobs_total",
                   "Blobs scheduled scrubs found corrupt (quarantined, refused until repaired).",
                   static_cast<double>(status.verify_corrupt)),
      api::Counter("hubmirror_verify_missing_blobs_total", "Blobs scheduled scrubs found missing.",
                   static_cast<double>(status.verify_missing)),
      api::Gauge("hubmirror_verify_last_duration_seconds", "How long the last scrub took.",
                 status.verify_last_seconds),
      api::Counter("hubmirror_budget_evicted_blobs_total",
                   "Pulled-through blobs evicted to keep the store within [storage] max_bytes.",
                   static_cast<double>(status.evicted_blobs)),
      api::Counter("hubmirror_budget_evicted_bytes_total",
                   "Bytes evicted to keep the store within [storage] max_bytes.",
                   static_cast<double>(status.evicted_bytes)),
      api::Counter("hubmirror_budget_failures_total", "Storage budget checks that failed.",
                   static_cast<double>(status.budget_failures)),
  };
}

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
  return std::make_shared<sync::UpstreamPullThrough>(policy, std::move(hub.value()),
                                                     upstream.rate_limited_until_ms, store,
                                                     data_dir / "registry.db", data_dir / "tmp");
}

int RunServe(const CommonOptions& common, const ServeArgs& args) {
  SetLogFormat(args.log_format == "json" ? LogFormat::kJson : LogFormat::kText);
  api::ServerOptions options;
  if (Status parsed = ParseListen(args.listen, &options); !parsed.ok())
    return ReportFailure(parsed);
  options.threads = args.threads;
  options.max_connections_per_address = args.max_connections_per_address;
  options.max_requests_per_address = args.max_requests_per_address;
  if (args.verify_on_read) options.verify_below_bytes = UINT64_MAX;
  std::optional<sync::ScheduleConfig> schedule;
  api::AccessPolicy policy;
  std::optional<sync::PullThroughPolicy> pull_through;
  sync::MaintenanceConfig upkeep;
  if (!args.config.empty()) {
    auto loaded = LoadConfig(args.config);
    if (!loaded.ok()) return ReportFailure(loaded.status());
    schedule = std::move(loaded.value());
    auto access = LoadAccessPolicy(args.config);
    if (!access.ok()) return ReportFailure(access.status());
    policy = *access;
    auto pulled = LoadPullThroughPolicy(args.config);
    if (!pulled.ok()) return ReportFailure(pulled.status());
    pull_through = std::move(pulled.value());
    auto maintenance = LoadMaintenanceConfig(args.config);
    if (!maintenance.ok()) return ReportFailure(maintenance.status());
    upkeep = std::move(maintenance.value());
  }
  auto store = storage::LocalBlobStore::OpenDirectory(common.data_dir);
  if (!store.ok()) return ReportFailure(store.status());
  options.registry_path = common.data_dir / "registry.db";
  auto key = LoadSigningKey(common);
  if (!key.ok()) return ReportFailure(key.status());
  options.signing_key = std::move(key.value());
  // Migrates the schema once, before any reader opens the database; then it is the connection
  // the server's few writes go through (access requests, settings, the audit log).
  auto registry =
      registry::Registry::Open(options.registry_path, registry::Registry::Mode::kReadWrite);
  if (!registry.ok()) return ReportFailure(registry.status());
  options.access = std::make_shared<api::AccessServices>(
      policy, std::make_unique<api::RegistryWriter>(std::move(registry.value())));
  if (pull_through) {
    auto pulling = StartPullThrough(*pull_through, schedule->upstream, **store, common.data_dir);
    if (!pulling.ok()) return ReportFailure(pulling.status());
    upkeep.take_repo_uses = [pulling = *pulling] { return pulling->TakeRepoUses(); };
    options.pull_through = std::move(pulling.value());
  }
  if (schedule && upkeep.max_store_bytes) {
    for (auto& rule : schedule->mirrors) rule.max_store_bytes = upkeep.max_store_bytes;
  }
  auto maintenance = std::make_shared<sync::Maintenance>(upkeep, options.registry_path, **store);
  options.job_samples = [maintenance] { return MaintenanceSamples(maintenance->Status()); };
  auto server = api::Server::Create(options, **store);
  if (!server.ok()) return ReportFailure(server.status());
  RaiseFileLimit(options.max_connections);
  std::string address = api::HostPort((*server)->endpoint());
  std::cout << "listening on http://" << address << std::endl;
  Log(LogLevel::kInfo, "serving " + common.data_dir.string() + " on " + address);
  std::unique_ptr<sync::Scheduler> scheduler;
  if (schedule && !schedule->mirrors.empty()) {
    Log(LogLevel::kInfo, "syncing " + std::to_string(schedule->mirrors.size()) + " repos from " +
                             schedule->upstream.base_url + " every " +
                             std::to_string(schedule->interval.count()) + " s");
    auto upstream = sync::CurlUpstreamHub::Create(schedule->upstream);
    if (!upstream.ok()) return ReportFailure(upstream.status());
    auto started = sync::Scheduler::Start(std::move(*schedule), std::move(upstream.value()),
                                          options.registry_path, **store);
    if (!started.ok()) return ReportFailure(started.status());
    scheduler = std::move(started.value());
  }
  (*server)->Run();
  if (scheduler) scheduler->Stop();
  maintenance->Stop();
  Log(LogLevel::kInfo, "stopped");
  return kExitOk;
}

}  // namespace

void AddServeCommand(CLI::App& app, const CommonOptions& common, int* exit_code) {
  auto args = std::make_shared<ServeArgs>();
  const CLI::Range per_address_range(size_t{0}, size_t{1} << 20);
  CLI::App* command = app.add_subcommand("serve", "serve the Hub-compatible HTTP API");
  command->add_option("--listen", args->listen, "HOST:PORT to listen on (port 0: any free port)")
      ->capture_default_str();
  command->add_option("--threads", args->threads, "worker threads (default: one per core)");
  command->add_flag("--verify-on-read", args->verify_on_read,
                    "hash every whole-file download as it is sent, not only those under 16 MiB");
  command
      ->add_option("--max-connections-per-address", args->max_connections_per_address,
                   "connections one client address may hold open at once (0: no limit; an "
                   "IPv6 client counts by its /64)")
      ->capture_default_str()
      ->check(per_address_range);
  command
      ->add_option("--max-requests-per-address", args->max_requests_per_address,
                   "requests of one client address served at once; more wait (0: no limit)")
      ->capture_default_str()
      ->check(per_address_range);
  command->add_option("--log-format", args->log_format, "text, or json: one object per line")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  command->add_option("--config", args->config,
                      "TOML config: upstream, schedule and repos to keep mirrored");
  command->callback([&common, args, exit_code] { *exit_code = RunServe(common, *args); });
}

}  // namespace hubmirror::cli
