#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/options.h"
#include "cli/storage_config.h"
#include "sync/gc_job.h"

namespace hubmirror::cli {
namespace {

struct GcArgs {
  int64_t grace_seconds = sync::GcOptions().grace.count();
  int64_t quarantine_seconds = sync::GcOptions().quarantine_age.count();
  bool dry_run = false;
  bool json = false;
  std::string config;
};

int RunGc(const CommonOptions& common, const GcArgs& args) {
  auto registry = OpenExistingRegistry(common, registry::Registry::Mode::kReadWrite);
  if (!registry.ok()) return ReportFailure(registry.status());
  auto store = OpenBlobStore(common.data_dir, args.config);
  if (!store.ok()) return ReportFailure(store.status());
  sync::GcOptions options;
  options.grace = std::chrono::seconds(args.grace_seconds);
  options.quarantine_age = std::chrono::seconds(args.quarantine_seconds);
  options.dry_run = args.dry_run;
  auto report = sync::CollectGarbage(**store, **registry, options);
  if (!report.ok()) return ReportFailure(report.status());
  if (args.json) {
    std::cout << sync::GcReportJson(*report, args.dry_run).dump(2) << std::endl;
    return kExitOk;
  }
  const char* verb = args.dry_run ? "would free" : "freed";
  std::cout << "blobs no commit uses: " << report->blobs << " (" << report->blob_bytes
            << " bytes)\n"
            << "stale temporary files: " << report->temporaries.files << " ("
            << report->temporaries.bytes << " bytes)\n"
            << "quarantined blobs past their age: " << report->quarantine.files << " ("
            << report->quarantine.bytes << " bytes)\n"
            << "kept: " << report->live_blobs << " blobs in use, " << report->recent_blobs
            << " unused but recent (within the grace period, or stored by a job still running)\n"
            << verb << " " << report->blobs << " blobs, " << report->bytes() << " bytes"
            << std::endl;
  return kExitOk;
}

}  // namespace

void AddGcCommand(CLI::App& app, const CommonOptions& common, int* exit_code) {
  auto args = std::make_shared<GcArgs>();
  CLI::App* command = app.add_subcommand(
      "gc", "remove blobs no commit uses, stale temporary files and old quarantined blobs");
  command->add_flag("--dry-run", args->dry_run, "count what would be removed, remove nothing");
  AddDurationOption(command, "--grace", &args->grace_seconds,
                    "keep what was written or used this recently (default 1h; 0s: none)", true)
      ->capture_default_str();
  AddDurationOption(command, "--quarantine-age", &args->quarantine_seconds,
                    "remove quarantined blobs moved aside this long ago (default 30d)", true);
  command->add_flag("--json", args->json, "print the report as JSON");
  AddStorageConfigOption(command, &args->config);
  command->callback([&common, args, exit_code] { *exit_code = RunGc(common, *args); });
}

}  // namespace hubmirror::cli
