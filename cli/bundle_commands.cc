// `hubmirror inventory`, `hubmirror export` and `hubmirror import-bundle`: air-gapped transfer.
#include <unistd.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/options.h"
#include "cli/storage_config.h"
#include "cli/sync_progress.h"
#include "registry/registry.h"
#include "sync/bundle.h"
#include "sync/bundle_format.h"

namespace hubmirror::cli {
namespace {

namespace fs = std::filesystem;

bool Terminal() { return ::isatty(STDERR_FILENO) == 1; }

struct InventoryArgs {
  bool json = false;
};

int RunInventory(const CommonOptions& common, const InventoryArgs& args) {
  auto registry = OpenExistingRegistry(common, registry::Registry::Mode::kReadOnly);
  if (!registry.ok()) return ReportFailure(registry.status());
  auto listed = sync::Inventory(**registry);
  if (!listed.ok()) return ReportFailure(listed.status());
  const nlohmann::json& inventory = *listed;
  if (args.json) {
    std::cout << inventory.dump() << std::endl;
    return kExitOk;
  }
  for (const auto& repo : inventory["repos"]) {
    std::cout << repo["type"].get<std::string>() << " " << repo["name"].get<std::string>() << ": "
              << repo["commits"].size() << " commits";
    for (const auto& [field, kind] : sync::kBundleRefFields) {
      if (!repo.contains(field)) continue;
      for (const auto& [name, commit] : repo[field].items()) {
        std::cout << ", " << RefRevision({kind, name}) << " at " << commit.get<std::string>();
      }
    }
    std::cout << std::endl;
  }
  std::cout << inventory["repos"].size() << " repos, " << inventory["blobs"].size() << " blobs"
            << std::endl;
  return kExitOk;
}

struct ExportArgs {
  std::string out;
  std::string have;
  uint64_t volume_size = 4ull << 30;
  bool all = false;
  RepoType type = RepoType::kModel;
  std::vector<std::string> repos;
  std::string config;
};

int RunExport(const CommonOptions& common, const ExportArgs& args) {
  sync::ExportOptions options;
  options.out = args.out;
  options.all = args.all;
  options.volume_size = args.volume_size;
  if (args.all == !args.repos.empty()) {
    return ReportFailure(InvalidArgument("name the repos to export, or --all (not both)"));
  }
  for (const auto& repo : args.repos) {
    if (Status valid = ValidateRepoId(repo); !valid.ok()) return ReportFailure(valid);
    options.repos.emplace_back(args.type, repo);
  }
  if (!args.have.empty()) {
    auto text = ReadArgumentFile(args.have);
    if (!text.ok()) return ReportFailure(text.status());
    nlohmann::json have = nlohmann::json::parse(*text, nullptr, false);
    if (have.is_discarded()) {
      return ReportFailure(InvalidArgument(args.have + " is not an inventory (JSON)"));
    }
    options.have = std::move(have);
  }
  auto registry = OpenExistingRegistry(common, registry::Registry::Mode::kReadOnly);
  if (!registry.ok()) return ReportFailure(registry.status());
  auto store = OpenBlobStore(common.data_dir, args.config);
  if (!store.ok()) return ReportFailure(store.status());
  auto key = LoadSigningKey(common);
  if (!key.ok()) return ReportFailure(key.status());
  auto report = [&] {
    SyncProgress progress("export", Terminal(), false);
    return sync::ExportBundle(**store, **registry, **key, options, &progress);
  }();
  if (!report.ok()) return ReportFailure(report.status());
  std::cout << "exported " << report->repos << " repos, " << report->commits << " commits, "
            << report->blobs << " blobs (" << report->bytes << " bytes) in " << report->volumes
            << " volumes";
  if (report->volumes_kept > 0) {
    std::cout << " (" << report->volumes_kept << " kept from an interrupted run)";
  }
  std::cout << " to " << args.out << ", signed by key " << (*key)->key_id() << std::endl;
  return kExitOk;
}

struct ImportBundleArgs {
  std::string bundle;
  std::vector<std::string> trusted_keys;
  bool allow_untrusted = false;
  std::string config;
};

int RunImportBundle(const CommonOptions& common, const ImportBundleArgs& args) {
  sync::ImportBundleOptions options;
  options.bundle = args.bundle;
  options.allow_untrusted = args.allow_untrusted;
  for (const auto& path : args.trusted_keys) {
    auto pem = ReadArgumentFile(path);
    if (!pem.ok()) return ReportFailure(pem.status());
    auto key = SigningKey::FromPublicPem(*pem);
    if (!key.ok()) return ReportFailure(InvalidArgument(path + ": " + key.status().message()));
    options.trusted_keys.push_back(std::move(key.value()));
  }
  if (options.trusted_keys.empty() && !options.allow_untrusted) {
    return ReportFailure(
        InvalidArgument("give the signer's public key with --trusted-key (or, at your own risk, "
                        "--allow-untrusted)"));
  }
  auto store = OpenBlobStore(common.data_dir, args.config);
  if (!store.ok()) return ReportFailure(store.status());
  // Importing into a new data directory is how an inner instance starts.
  auto registry = registry::Registry::Open(common.data_dir / "registry.db",
                                           registry::Registry::Mode::kReadWrite);
  if (!registry.ok()) return ReportFailure(registry.status());
  auto report = [&] {
    SyncProgress progress("import", Terminal(), false);
    return sync::ImportBundle(**store, **registry, options, &progress);
  }();
  if (!report.ok()) {
    std::cerr << "hubmirror: bundle " << args.bundle
              << " refused, nothing published: " << report.status().message() << std::endl;
    return report.status().code() == StatusCode::kInvalidArgument ? kExitUsage : kExitProblem;
  }
  std::cout << "imported bundle signed by key " << report->signer
            << (report->trusted ? " (trusted)" : " (NOT TRUSTED)") << ": " << report->repos
            << " repos, " << report->commits << " commits (" << report->commits_published
            << " published or moved), " << report->new_blobs << " new blobs (" << report->new_bytes
            << " bytes), " << report->skipped_blobs << " blobs already here" << std::endl;
  return kExitOk;
}

}  // namespace

void AddBundleCommands(CLI::App& app, const CommonOptions& common, int* exit_code) {
  auto inventory = std::make_shared<InventoryArgs>();
  CLI::App* list = app.add_subcommand(
      "inventory", "what this instance holds (repos, commits, refs, blobs), for export --have");
  list->add_flag("--json", inventory->json, "the inventory as JSON (what export --have reads)");
  list->callback(
      [&common, inventory, exit_code] { *exit_code = RunInventory(common, *inventory); });

  auto out = std::make_shared<ExportArgs>();
  CLI::App* exporter = app.add_subcommand(
      "export", "write a signed bundle of repos for another instance, in volumes");
  exporter->add_option("--out", out->out, "the bundle directory")->required();
  exporter->add_option("--have", out->have,
                       "the other side's inventory (JSON): leave out the content it has");
  AddSizeOption(exporter, "--volume-size", &out->volume_size, "largest volume, e.g. 700M or 4G")
      ->default_str("4G");
  exporter->add_flag("--all", out->all, "every repo");
  AddRepoTypeOption(exporter, &out->type, "the named repos' type: model or dataset");
  exporter->add_option("REPO", out->repos, "ORG/NAME (every branch of it)");
  AddStorageConfigOption(exporter, &out->config);
  exporter->callback([&common, out, exit_code] { *exit_code = RunExport(common, *out); });

  auto in = std::make_shared<ImportBundleArgs>();
  CLI::App* importer = app.add_subcommand(
      "import-bundle", "verify a bundle and publish it atomically (resumable, idempotent)");
  importer->add_option("BUNDLE", in->bundle, "the bundle directory")->required();
  importer->add_option("--trusted-key", in->trusted_keys,
                       "a public key (PEM) whose bundles are accepted (repeatable)");
  importer->add_flag("--allow-untrusted", in->allow_untrusted,
                     "accept a bundle no trusted key signed (its content is still verified)");
  AddStorageConfigOption(importer, &in->config);
  importer->callback([&common, in, exit_code] { *exit_code = RunImportBundle(common, *in); });
}

}  // namespace hubmirror::cli
