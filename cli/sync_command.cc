#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include "cli/commands.h"
#include "cli/options.h"
#include "cli/storage_config.h"
#include "cli/sync_progress.h"
#include "common/log.h"
#include "registry/registry.h"
#include "sync/curl_upstream_hub.h"
#include "sync/lineage_sync.h"
#include "sync/mirror_pass.h"

namespace hubmirror::cli {
namespace {

struct SyncArgs {
  std::string upstream;
  std::string token_env;
  RepoType type = RepoType::kModel;
  std::vector<std::string> include;
  std::vector<std::string> exclude;
  std::vector<std::string> repos;
  uint64_t limit_rate = 0;
  int retries = 5;
  size_t concurrency = 4;
  long stall_timeout = 30;
  bool ancestors = false;
  std::vector<std::string> descendants;
  int64_t min_downloads = 0;
  size_t max_count = 0;
  bool lineage_metadata_only = false;
  std::string config;
};

// Prints what the pass does: a line per repo on stdout, problems on stderr, and a progress bar
// per job while it downloads.
class PrintingListener : public sync::MirrorPassListener {
 public:
  void OnProblem(const Status& problem) override {
    std::cerr << "hubmirror: " << problem.message() << std::endl;
  }
  void OnRelativesRecorded(size_t count) override {
    std::cout << "lineage: recorded " << count << " relatives without their files" << std::endl;
  }
  void OnRefsDeleted(const sync::MirrorSpec& rule, const std::vector<RefName>& refs) override {
    std::cout << sync::DeletedRefsMessage(rule, refs) << std::endl;
  }
  std::unique_ptr<sync::MirrorObserver> ObserveJob(const sync::MirrorSpec& job) override {
    return std::make_unique<SyncProgress>(Label(job), ::isatty(STDERR_FILENO) == 1);
  }
  void OnJobDone(const sync::MirrorSpec& job, const Result<sync::MirrorReport>& report) override {
    if (!report.ok()) {
      std::cerr << "hubmirror: " << Label(job) << ": " << report.status().message() << std::endl;
    } else if (report->up_to_date) {
      std::cout << Label(job) << ": up to date at " << report->commit_id << std::endl;
    } else {
      std::cout << Label(job) << ": mirrored " << report->commit_id << ", " << report->files
                << " files, downloaded " << report->downloaded_files << " ("
                << report->downloaded_bytes << " bytes)" << std::endl;
    }
  }

 private:
  static std::string Label(const sync::MirrorSpec& job) { return job.repo + "@" + job.revision; }
};

int RunSync(const CommonOptions& common, const SyncArgs& args) {
  sync::UpstreamOptions options;
  options.base_url = args.upstream;
  options.max_bytes_per_second = args.limit_rate;
  options.max_attempts = args.retries + 1;
  options.stall_timeout_seconds = args.stall_timeout;
  if (!args.token_env.empty()) {
    const char* token = std::getenv(args.token_env.c_str());
    if (token == nullptr || *token == '\0') {
      return ReportFailure(InvalidArgument("--token-env " + args.token_env +
                                           ": that environment variable is not set"));
    }
    options.token = token;
  }
  RepoType type = args.type;
  sync::LineageRules lineage;
  lineage.ancestors = args.ancestors;
  lineage.descendant_relations = args.descendants;
  lineage.min_downloads = args.min_downloads;
  lineage.max_count = args.max_count;
  lineage.metadata_only = args.lineage_metadata_only;
  if (Status valid = sync::ValidateLineageRules(lineage); !valid.ok()) return ReportFailure(valid);
  if (lineage.Any() && type != RepoType::kModel) {
    return ReportFailure(InvalidArgument("--ancestors and --descendants apply to models only"));
  }
  std::vector<sync::MirrorSpec> specs;
  for (const auto& text : args.repos) {
    sync::MirrorSpec spec;
    spec.type = type;
    size_t at = text.find('@');
    spec.repo = text.substr(0, at);
    if (at != std::string::npos) spec.revision = text.substr(at + 1);
    if (Status valid = sync::ValidateRevisionRule(spec.revision); !valid.ok()) {
      return ReportFailure(valid);
    }
    spec.include = args.include;
    spec.exclude = args.exclude;
    spec.concurrency = args.concurrency;
    spec.lineage = lineage;
    if (Status valid = ValidateRepoId(spec.repo); !valid.ok()) return ReportFailure(valid);
    specs.push_back(std::move(spec));
  }
  auto upstream = sync::CurlUpstreamHub::Create(options);
  if (!upstream.ok()) return ReportFailure(upstream.status());
  auto store = OpenBlobStore(common.data_dir, args.config);
  if (!store.ok()) return ReportFailure(store.status());
  auto registry = registry::Registry::Open(common.data_dir / "registry.db",
                                           registry::Registry::Mode::kReadWrite);
  if (!registry.ok()) return ReportFailure(registry.status());

  PrintingListener listener;
  size_t failures = sync::RunMirrorPass(**upstream, **store, **registry, specs, listener);
  return failures == 0 ? kExitOk : kExitProblem;
}

}  // namespace

void AddSyncCommand(CLI::App& app, const CommonOptions& common, int* exit_code) {
  auto args = std::make_shared<SyncArgs>();
  CLI::App* command =
      app.add_subcommand("sync", "mirror repos from a Hub-compatible upstream, verified");
  command->add_option("--upstream", args->upstream, "upstream URL, e.g. https://huggingface.co")
      ->required();
  command->add_option("--token-env", args->token_env,
                      "environment variable holding the upstream token");
  AddRepoTypeOption(command, &args->type, "model or dataset");
  command->add_option("--include", args->include, "only files matching this glob (repeatable)");
  command->add_option("--exclude", args->exclude, "skip files matching this glob (repeatable)");
  command->add_option("--limit-rate", args->limit_rate, "bytes per second per transfer (0: none)");
  command->add_option("--concurrency", args->concurrency, "files downloaded at once")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  command->add_option("--retries", args->retries, "retries per request after a transient failure")
      ->capture_default_str()
      ->check(CLI::Range(0, 100));
  command
      ->add_option("--stall-timeout", args->stall_timeout,
                   "seconds without a byte before a transfer is retried")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600));
  command->add_flag("--ancestors", args->ancestors,
                    "also mirror the base models, up to the roots (models only)");
  command
      ->add_option("--descendants", args->descendants,
                   "also mirror children through these relations (finetune, adapter, quantized, "
                   "merge), found by the upstream's base_model listings")
      ->delimiter(',');
  command
      ->add_option("--min-downloads", args->min_downloads,
                   "skip descendants with fewer downloads upstream")
      ->check(CLI::NonNegativeNumber);
  command->add_option("--max-count", args->max_count,
                      "mirror at most this many descendants, most downloaded first (0: all)");
  command->add_flag("--lineage-metadata-only", args->lineage_metadata_only,
                    "record the relatives' lineage and details, not their files");
  command
      ->add_option("REPO", args->repos,
                   "ORG/NAME[@REVISION] (default revision: main); REVISION is a branch, a tag, "
                   "refs/pr/N, refs/convert/NAME, a commit id, or a pattern such as '*', "
                   "'tags/*' or 'refs/pr/*'")
      ->required();
  AddStorageConfigOption(command, &args->config);
  command->callback([&common, args, exit_code] { *exit_code = RunSync(common, *args); });
}

}  // namespace hubmirror::cli
