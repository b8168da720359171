#include <iostream>

#include "cli/commands.h"
#include "cli/options.h"
#include "cli/storage_config.h"
#include "registry/registry.h"
#include "sync/local_import.h"

namespace hubmirror::cli {
namespace {

struct ImportArgs {
  std::string repo;
  RepoType type = RepoType::kModel;
  std::string branch = "main";
  std::vector<std::string> tags;
  std::string source;
  std::string config;
};

int RunImport(const CommonOptions& common, const ImportArgs& args) {
  sync::ImportOptions options;
  options.type = args.type;
  options.repo = args.repo;
  options.branch = args.branch;
  options.tags = args.tags;
  options.source = args.source;
  if (Status valid = sync::ValidateImportOptions(options); !valid.ok()) {
    return ReportFailure(valid);
  }
  auto store = OpenBlobStore(common.data_dir, args.config);
  if (!store.ok()) return ReportFailure(store.status());
  auto registry = registry::Registry::Open(common.data_dir / "registry.db",
                                           registry::Registry::Mode::kReadWrite);
  if (!registry.ok()) return ReportFailure(registry.status());
  auto report = sync::ImportFolder(**store, **registry, options);
  if (!report.ok()) return ReportFailure(report.status());
  for (const auto& warning : report->warnings)
    std::cerr << "hubmirror: warning: " << warning << "\n";
  if (report->created_commit) {
    std::cout << "imported " << report->files << " files (" << report->bytes << " bytes) into "
              << RepoTypeName(args.type) << " " << args.repo << "@" << args.branch << " as commit "
              << report->commit_id << std::endl;
  } else if (!args.tags.empty()) {
    std::cout << "unchanged: " << RepoTypeName(args.type) << " " << args.repo << "@" << args.branch
              << " already has this tree at commit " << report->commit_id << ", now tagged"
              << std::endl;
  } else {
    std::cout << "unchanged: " << RepoTypeName(args.type) << " " << args.repo << "@" << args.branch
              << " already has this tree at commit " << report->commit_id << std::endl;
  }
  return kExitOk;
}

}  // namespace

void AddImportCommand(CLI::App& app, const CommonOptions& common, int* exit_code) {
  auto args = std::make_shared<ImportArgs>();
  CLI::App* command = app.add_subcommand("import", "import a local folder as a commit on a branch");
  command->add_option("--repo", args->repo, "repo id, ORG/NAME")->required();
  AddRepoTypeOption(command, &args->type, "model or dataset");
  command->add_option("--branch", args->branch, "branch to commit to")->capture_default_str();
  command->add_option("--tag", args->tags,
                      "also tag the commit with this name (repeatable; tags never move)");
  command->add_option("SRC_DIR", args->source, "folder to import")->required();
  AddStorageConfigOption(command, &args->config);
  command->callback([&common, args, exit_code] { *exit_code = RunImport(common, *args); });
}

}  // namespace hubmirror::cli
