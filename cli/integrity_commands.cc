// `hubmirror verify`, `hubmirror manifest` and `hubmirror check`: integrity end to end.
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "api/manifest.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "cli/storage_config.h"
#include "cli/sync_progress.h"
#include "common/digest.h"
#include "registry/registry.h"
#include "sync/verify_job.h"

namespace hubmirror::cli {
namespace {

namespace fs = std::filesystem;

// ------------------------------------------------------------------------------ verify

struct VerifyArgs {
  std::string repo;
  RepoType type = RepoType::kModel;
  bool json = false;
  size_t threads = 0;
  std::string config;
};

std::string Where(const sync::BlobProblem& problem) {
  if (problem.uses.empty()) return "blob " + problem.sha256 + " (used by no file)";
  const registry::BlobUse& use = problem.uses.front();
  std::string where =
      std::string(RepoTypeName(use.type)) + " " + use.repo + "@" + use.commit_id + " " + use.path;
  if (problem.uses.size() > 1) where += " (and other files with the same content)";
  return where;
}

int RunVerify(const CommonOptions& common, const VerifyArgs& args) {
  sync::VerifyOptions options;
  options.threads = args.threads;
  if (!args.repo.empty()) {
    options.type = args.type;
    if (Status valid = ValidateRepoId(args.repo); !valid.ok()) return ReportFailure(valid);
    options.repo = args.repo;
  }
  auto registry = OpenExistingRegistry(common, registry::Registry::Mode::kReadWrite);
  if (!registry.ok()) return ReportFailure(registry.status());
  auto store = OpenBlobStore(common.data_dir, args.config);
  if (!store.ok()) return ReportFailure(store.status());
  auto report = [&] {
    SyncProgress progress("verify", ::isatty(STDERR_FILENO) == 1 && !args.json, false);
    return sync::VerifyStore(**store, **registry, options, &progress);
  }();
  if (!report.ok()) return ReportFailure(report.status());
  if (args.json) {
    std::cout << sync::VerifyReportJson(*report).dump(2) << std::endl;
  } else {
    for (const auto& problem : report->problems) {
      std::cout << registry::BlobStateName(problem.state) << ": " << Where(problem)
                << ": sha256 expected " << problem.sha256 << ", " << problem.detail
                << (problem.state == registry::BlobState::kCorrupt ? " (moved to quarantine/)" : "")
                << std::endl;
    }
    for (const auto& [use, detail] : report->inconsistent_files) {
      std::cout << "inconsistent: " << RepoTypeName(use.type) << " " << use.repo << "@"
                << use.commit_id << " " << use.path << ": " << detail << std::endl;
    }
    char line[256];
    std::snprintf(line, sizeof line,
                  "verified %zu blobs (%llu bytes) in %.2f s, %.1f MiB/s: %zu corrupt, %zu missing",
                  report->blobs, static_cast<unsigned long long>(report->bytes), report->seconds,
                  report->BytesPerSecond() / (1 << 20),
                  report->Count(registry::BlobState::kCorrupt),
                  report->Count(registry::BlobState::kMissing));
    std::cout << line << std::endl;
    if (!report->problems.empty()) {
      std::cout << "the next sync of the affected repos fetches their content again" << std::endl;
    }
  }
  return report->clean() ? kExitOk : kExitProblem;
}

// ------------------------------------------------------------------------------ manifest

struct ManifestArgs {
  std::string repo;
  RepoType type = RepoType::kModel;
};

int RunManifest(const CommonOptions& common, const ManifestArgs& args) {
  size_t at = args.repo.find('@');
  std::string repo = args.repo.substr(0, at);
  std::string revision = at == std::string::npos ? "main" : args.repo.substr(at + 1);
  if (Status valid = ValidateRepoId(repo); !valid.ok()) return ReportFailure(valid);
  auto registry = OpenExistingRegistry(common, registry::Registry::Mode::kReadOnly);
  if (!registry.ok()) return ReportFailure(registry.status());
  auto key = LoadSigningKey(common);
  if (!key.ok()) return ReportFailure(key.status());
  auto document = api::SignedManifest(**registry, **key, args.type, repo, revision);
  if (!document.ok()) return ReportFailure(document.status());
  // Replaced as in what was signed (common/signed_json.h), so the printed manifest verifies.
  std::cout << document->dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
  return kExitOk;
}

// ------------------------------------------------------------------------------ check

struct CheckArgs {
  std::string manifest;
  std::string key;
  std::string path;
};

// SHA-256 and size of a file, following symlinks (cache snapshots link into blobs/).
Result<std::pair<std::string, uint64_t>> HashFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return IoError("cannot read " + path.string());
  Hasher hasher(Hasher::Algorithm::kSha256);
  std::vector<char> buffer(1 << 20);
  uint64_t size = 0;
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    hasher.Update(buffer.data(), static_cast<size_t>(in.gcount()));
    size += static_cast<uint64_t>(in.gcount());
  }
  if (in.bad()) return IoError("cannot read " + path.string());
  return std::make_pair(hasher.FinishHex(), size);
}

int RunCheck(const CheckArgs& args) {
  auto pem = ReadArgumentFile(args.key);
  if (!pem.ok()) return ReportFailure(pem.status());
  auto key = SigningKey::FromPublicPem(*pem);
  if (!key.ok()) return ReportFailure(InvalidArgument(args.key + ": " + key.status().message()));
  auto text = ReadArgumentFile(args.manifest);
  if (!text.ok()) return ReportFailure(text.status());
  nlohmann::json document = nlohmann::json::parse(*text, nullptr, false);
  std::error_code ec;
  if (!fs::is_directory(args.path, ec)) {
    return ReportFailure(InvalidArgument(args.path + " is not a directory"));
  }
  auto manifest = api::VerifiedManifest(document, **key);
  if (!manifest.ok()) {
    std::cout << "manifest " << args.manifest << ": " << manifest.status().message() << std::endl;
    return kExitProblem;
  }
  std::cout << "manifest of " << manifest->value("type", "") << " " << manifest->value("repo", "")
            << "@" << manifest->value("commit", "") << " signed by key "
            << manifest->value("key_id", "") << ": signature ok" << std::endl;

  std::set<std::string> expected;
  size_t ok = 0, mismatched = 0, missing = 0, unexpected = 0;
  for (const auto& file : (*manifest)["files"]) {
    std::string path = file.value("path", "");
    std::string sha256 = file.value("sha256", "");
    uint64_t size = file.value("size", uint64_t{0});
    if (!ValidateRepoPath(path).ok()) {
      std::cout << "manifest " << args.manifest << ": invalid file path '" << path << "'"
                << std::endl;
      return kExitProblem;
    }
    expected.insert(path);
    fs::path local = fs::path(args.path) / path;
    if (!fs::exists(local, ec)) {
      std::cout << "missing: " << path << std::endl;
      ++missing;
      continue;
    }
    auto hashed = HashFile(local);
    if (!hashed.ok()) return ReportFailure(hashed.status());
    if (hashed->first != sha256 || hashed->second != size) {
      std::cout << "mismatched: " << path << ": sha256 " << hashed->first << " (" << hashed->second
                << " bytes), expected " << sha256 << " (" << size << " bytes)" << std::endl;
      ++mismatched;
      continue;
    }
    ++ok;
  }
  // Everything else under the folder, except huggingface_hub's own bookkeeping of a local-dir
  // download (.cache/huggingface/).
  for (auto it = fs::recursive_directory_iterator(args.path, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    // Lexically: a cache snapshot's files are symlinks, named by the link, not by the blob.
    std::string relative = it->path().lexically_relative(args.path).generic_string();
    if (relative == ".cache/huggingface") {
      it.disable_recursion_pending();
      continue;
    }
    if (fs::is_directory(it->path(), ec) || expected.contains(relative)) continue;
    std::cout << "unexpected: " << relative << std::endl;
    ++unexpected;
  }
  if (ec) return ReportFailure(IoError("cannot list " + args.path + ": " + ec.message()));
  std::cout << ok << " ok, " << mismatched << " mismatched, " << missing << " missing, "
            << unexpected << " unexpected" << std::endl;
  return mismatched + missing + unexpected == 0 ? kExitOk : kExitProblem;
}

}  // namespace

void AddVerifyCommand(CLI::App& app, const CommonOptions& common, int* exit_code) {
  auto args = std::make_shared<VerifyArgs>();
  CLI::App* command = app.add_subcommand(
      "verify", "re-hash every stored blob (or one repo's); quarantine and mark what is wrong");
  command->add_option("--repo", args->repo, "only the blobs this repo's files use, ORG/NAME");
  AddRepoTypeOption(command, &args->type, "the repo's type: model or dataset");
  command->add_option("--threads", args->threads, "hashing threads (default: one per core)");
  command->add_flag("--json", args->json, "print the report as JSON");
  AddStorageConfigOption(command, &args->config);
  command->callback([&common, args, exit_code] { *exit_code = RunVerify(common, *args); });
}

void AddManifestCommand(CLI::App& app, const CommonOptions& common, int* exit_code) {
  auto args = std::make_shared<ManifestArgs>();
  CLI::App* command = app.add_subcommand(
      "manifest", "print the signed manifest of a revision (what /api/integrity serves)");
  command->add_option("REPO", args->repo, "ORG/NAME[@REVISION] (default revision: main)")
      ->required();
  AddRepoTypeOption(command, &args->type, "model or dataset");
  command->callback([&common, args, exit_code] { *exit_code = RunManifest(common, *args); });
}

void AddCheckCommand(CLI::App& app, const CommonOptions& common, int* exit_code) {
  (void)common;
  auto args = std::make_shared<CheckArgs>();
  CLI::App* command =
      app.add_subcommand("check", "check a downloaded folder against a signed manifest, offline");
  command->add_option("--manifest", args->manifest, "the signed manifest (JSON)")->required();
  command->add_option("--key", args->key, "the signer's public key (PEM)")->required();
  command
      ->add_option("PATH", args->path,
                   "a download folder, or a huggingface_hub / huggingface.js cache snapshot")
      ->required();
  command->callback([args, exit_code] { *exit_code = RunCheck(*args); });
}

}  // namespace hubmirror::cli
