// `hubmirror du`: what the store holds per repo, organization or lineage family, and what
// deduplication shares between them.
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "cli/commands.h"

namespace hubmirror::cli {
namespace {

struct DuArgs {
  std::string by = "repo";
  bool json = false;
};

struct Usage {
  size_t blobs = 0;
  uint64_t bytes = 0;
  uint64_t unique_bytes = 0;
};

// The group a repo counts in: itself ("model acme/x"), its namespace, or the foundation model
// its lineage leads to (the first root; a model without parents is its own family's root).
Result<std::string> GroupOf(registry::Registry& registry, const std::string& by, RepoType type,
                            const std::string& repo) {
  if (by == "org") return repo.substr(0, repo.find('/'));
  std::string own = std::string(RepoTypeName(type)) + " " + repo;
  if (by == "repo" || type != RepoType::kModel) return own;
  auto graph = registry.Lineage(repo, registry::LineageDirection::kUp, 0, "");
  if (!graph.ok()) return graph.status();
  return graph->roots.empty() ? repo : graph->roots.front();
}

int RunDu(const CommonOptions& common, const DuArgs& args) {
  auto registry = OpenExistingRegistry(common, registry::Registry::Mode::kReadOnly);
  if (!registry.ok()) return ReportFailure(registry.status());
  // Each repo's distinct blobs first; grouping needs the registry, which the listing holds.
  std::vector<std::tuple<RepoType, std::string, std::string, uint64_t>> uses;
  Status listed = (*registry)->ForEachRepoBlob(
      [&](RepoType type, const std::string& repo, const std::string& sha256, uint64_t size) {
        uses.emplace_back(type, repo, sha256, size);
      });
  if (!listed.ok()) return ReportFailure(listed);
  std::map<std::pair<RepoType, std::string>, std::string> group_of;
  std::map<std::string, std::set<std::string>> groups_of_blob;
  std::map<std::string, uint64_t> size_of;
  std::map<std::string, std::set<std::string>> blobs_of_group;
  for (const auto& [type, repo, sha256, size] : uses) {
    auto key = std::make_pair(type, repo);
    if (!group_of.contains(key)) {
      auto group = GroupOf(**registry, args.by, type, repo);
      if (!group.ok()) return ReportFailure(group.status());
      group_of[key] = *group;
    }
    groups_of_blob[sha256].insert(group_of[key]);
    blobs_of_group[group_of[key]].insert(sha256);
    size_of[sha256] = size;
  }
  std::vector<std::pair<std::string, Usage>> rows;
  for (const auto& [group, blobs] : blobs_of_group) {
    Usage usage;
    for (const auto& sha256 : blobs) {
      ++usage.blobs;
      usage.bytes += size_of[sha256];
      if (groups_of_blob[sha256].size() == 1) usage.unique_bytes += size_of[sha256];
    }
    rows.emplace_back(group, usage);
  }
  std::stable_sort(rows.begin(), rows.end(),
                   [](const auto& a, const auto& b) { return a.second.bytes > b.second.bytes; });
  uint64_t total = 0;
  for (const auto& [sha256, size] : size_of) total += size;
  if (args.json) {
    nlohmann::json groups = nlohmann::json::array();
    for (const auto& [group, usage] : rows) {
      groups.push_back({{"name", group},
                        {"blobs", usage.blobs},
                        {"bytes", usage.bytes},
                        {"unique_bytes", usage.unique_bytes},
                        {"shared_bytes", usage.bytes - usage.unique_bytes}});
    }
    std::cout << nlohmann::json{{"by", args.by},
                                {"groups", groups},
                                {"total", {{"blobs", size_of.size()}, {"bytes", total}}}}
                     .dump(2)
              << std::endl;
    return kExitOk;
  }
  for (const auto& [group, usage] : rows) {
    std::cout << group << ": " << usage.bytes << " bytes in " << usage.blobs << " blobs, "
              << usage.unique_bytes << " unique to it, " << usage.bytes - usage.unique_bytes
              << " shared through deduplication\n";
  }
  std::cout << "stored: " << size_of.size() << " blobs, " << total << " bytes" << std::endl;
  return kExitOk;
}

}  // namespace

void AddDuCommand(CLI::App& app, const CommonOptions& common, int* exit_code) {
  auto args = std::make_shared<DuArgs>();
  CLI::App* command = app.add_subcommand(
      "du", "bytes stored per repo, organization or lineage family, unique and shared");
  command->add_option("--by", args->by, "repo, org or family (the foundation model's)")
      ->check(CLI::IsMember({"repo", "org", "family"}))
      ->capture_default_str();
  command->add_flag("--json", args->json, "print the usage as JSON");
  command->callback([&common, args, exit_code] { *exit_code = RunDu(common, *args); });
}

}  // namespace hubmirror::cli
