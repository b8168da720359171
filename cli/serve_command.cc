#include <sys/resource.h>

#include <iostream>
#include <optional>

#include "api/access.h"
#include "api/server.h"
#include "cli/commands.h"
#include "cli/config_file.h"
#include "cli/daemon.h"
#include "cli/storage_config.h"
#include "common/log.h"
#include "registry/registry.h"
#include "web/pages.h"

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

int RunServe(const CommonOptions& common, const ServeArgs& args) {
  SetLogFormat(args.log_format == "json" ? LogFormat::kJson : LogFormat::kText);
  api::ServerOptions options;
  if (Status parsed = ParseListen(args.listen, &options); !parsed.ok())
    return ReportFailure(parsed);
  options.threads = args.threads;
  options.max_connections_per_address = args.max_connections_per_address;
  options.max_requests_per_address = args.max_requests_per_address;
  if (args.verify_on_read) options.verify_below_bytes = UINT64_MAX;
  DaemonConfig config;
  if (!args.config.empty()) {
    auto loaded = LoadDaemonConfig(args.config);
    if (!loaded.ok()) return ReportFailure(loaded.status());
    config = std::move(loaded.value());
  }
  auto store = OpenBlobStore(common.data_dir, config.storage);
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
      config.access, std::make_unique<api::RegistryWriter>(std::move(registry.value())));
  auto daemon =
      Daemon::Start(args.config, std::move(config), common.data_dir, **store, options.access);
  if (!daemon.ok()) return ReportFailure(daemon.status());
  options.pull_through = (*daemon)->pull_through();
  options.jobs = *daemon;
  options.publisher = (*daemon)->publisher();
  options.pages = web::MakeWebPages();
  options.job_samples = [daemon = *daemon] { return daemon->Samples(); };
  auto server = api::Server::Create(options, **store);
  if (!server.ok()) return ReportFailure(server.status());
  RaiseFileLimit(options.max_connections);
  std::string address = api::HostPort((*server)->endpoint());
  std::cout << "listening on http://" << address << std::endl;
  Log(LogLevel::kInfo, "serving " + common.data_dir.string() + " on " + address);
  (*server)->Run();
  (*daemon)->Stop();
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
                      "TOML config: upstream, schedule, repos to keep mirrored, storage");
  command->callback([&common, args, exit_code] { *exit_code = RunServe(common, *args); });
}

}  // namespace hubmirror::cli
