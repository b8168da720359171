#include <iostream>
#include <optional>

#include "api/server.h"
#include "cli/commands.h"
#include "cli/config_file.h"
#include "common/log.h"
#include "registry/registry.h"
#include "storage/local_blob_store.h"

namespace hubmirror::cli {
namespace {

struct ServeArgs {
  std::string listen = "127.0.0.1:8080";
  unsigned threads = 0;
  std::string config;
  bool verify_on_read = false;
};

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

int RunServe(const CommonOptions& common, const ServeArgs& args) {
  api::ServerOptions options;
  if (Status parsed = ParseListen(args.listen, &options); !parsed.ok())
    return ReportFailure(parsed);
  options.threads = args.threads;
  if (args.verify_on_read) options.verify_below_bytes = UINT64_MAX;
  std::optional<sync::ScheduleConfig> schedule;
  if (!args.config.empty()) {
    auto loaded = LoadConfig(args.config);
    if (!loaded.ok()) return ReportFailure(loaded.status());
    schedule = std::move(loaded.value());
  }
  auto store = storage::LocalBlobStore::OpenDirectory(common.data_dir);
  if (!store.ok()) return ReportFailure(store.status());
  options.registry_path = common.data_dir / "registry.db";
  auto key = LoadSigningKey(common);
  if (!key.ok()) return ReportFailure(key.status());
  options.signing_key = std::move(key.value());
  // Migrates the schema once, before any reader opens the database.
  auto registry =
      registry::Registry::Open(options.registry_path, registry::Registry::Mode::kReadWrite);
  if (!registry.ok()) return ReportFailure(registry.status());
  auto server = api::Server::Create(options, **store);
  if (!server.ok()) return ReportFailure(server.status());
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
  Log(LogLevel::kInfo, "stopped");
  return kExitOk;
}

}  // namespace

void AddServeCommand(CLI::App& app, const CommonOptions& common, int* exit_code) {
  auto args = std::make_shared<ServeArgs>();
  CLI::App* command = app.add_subcommand("serve", "serve the Hub-compatible HTTP API");
  command->add_option("--listen", args->listen, "HOST:PORT to listen on (port 0: any free port)")
      ->capture_default_str();
  command->add_option("--threads", args->threads, "worker threads (default: one per core)");
  command->add_flag("--verify-on-read", args->verify_on_read,
                    "hash every whole-file download as it is sent, not only those under 16 MiB");
  command->add_option("--config", args->config,
                      "TOML config: upstream, schedule and repos to keep mirrored");
  command->callback([&common, args, exit_code] { *exit_code = RunServe(common, *args); });
}

}  // namespace hubmirror::cli
