// Inventory and ExportBundle (sync/bundle.h): what an instance holds, and writing a bundle.
#include <algorithm>
#include <map>
#include <set>

#include "common/clock.h"
#include "common/files.h"
#include "common/signed_json.h"
#include "sync/bundle.h"
#include "sync/bundle_format.h"
#include "sync/bundle_volumes.h"

namespace hubmirror::sync {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Written before the volumes, removed after bundle.json: what an interrupted run was writing.
constexpr const char* kPlanFile = "bundle.plan.json";

// Every repo of both types, or the ones named.
Result<std::vector<registry::Repo>> SelectRepos(
    registry::Registry& registry, bool all,
    const std::vector<std::pair<RepoType, std::string>>& named) {
  std::vector<registry::Repo> repos;
  if (!all) {
    for (const auto& [type, name] : named) {
      auto repo = registry.FindRepo(type, name);
      if (!repo.ok()) return repo.status();
      repos.push_back(std::move(repo.value()));
    }
    return repos;
  }
  for (RepoType type : {RepoType::kModel, RepoType::kDataset}) {
    registry::RepoQuery query;
    query.type = type;
    for (;; query.offset += query.limit) {
      auto page = registry.ListRepos(query);
      if (!page.ok()) return page.status();
      repos.insert(repos.end(), page->begin(), page->end());
      if (static_cast<int64_t>(page->size()) < query.limit) break;
    }
  }
  return repos;
}

// The commits reachable from a repo's refs of every kind, oldest first, each once.
Result<std::vector<registry::Commit>> History(registry::Registry& registry,
                                              const registry::Repo& repo,
                                              const std::vector<registry::Ref>& refs) {
  std::vector<registry::Commit> history;
  std::set<std::string> seen;
  for (const auto& ref : refs) {
    if (seen.contains(ref.commit_id)) continue;
    int64_t total = 0;
    auto commits = registry.ListHistory(repo, ref.commit_id, 0, INT64_MAX / 2, &total);
    if (!commits.ok()) return commits.status();
    for (auto it = commits->rbegin(); it != commits->rend(); ++it) {
      if (seen.insert(it->id).second) history.push_back(std::move(*it));
    }
  }
  return history;
}

// What the selected repos put in bundle.json, and the content they need that the far side lacks.
struct Selection {
  json repos = json::array();
  size_t commits = 0;
  std::map<std::string, registry::BlobRow> carried;  // by digest: the order of the stream
};

Result<json> RepoJson(registry::Registry& registry, const registry::Repo& repo,
                      const std::set<std::string>& have, Selection* selection) {
  auto refs = registry.ListRefs(repo);
  if (!refs.ok()) return refs.status();
  auto history = History(registry, repo, *refs);
  if (!history.ok()) return history.status();
  json commits = json::array();
  for (const auto& commit : *history) {
    auto entries = registry.ListEntries(repo, commit.id, "");
    if (!entries.ok()) return entries.status();
    json entry_list = json::array();
    for (const auto& entry : *entries) {
      if (!entry.is_directory && entry.blob_state == registry::BlobState::kAbsent) {
        return Status(StatusCode::kFailedPrecondition,
                      std::string(RepoTypeName(repo.type)) + " " + repo.name + "@" + commit.id +
                          " " + entry.path +
                          " is not stored yet (pulled through on demand): `hubmirror sync` the "
                          "repo to store all its files, then export it");
      }
      entry_list.push_back(EntryJson(entry));
      if (entry.is_directory || have.contains(entry.sha256) ||
          selection->carried.contains(entry.sha256)) {
        continue;
      }
      auto row = registry.FindBlob(entry.sha256);
      if (!row.ok()) return row.status();
      if (!*row) return Corrupt("no blob row for " + entry.sha256 + " (" + entry.path + ")");
      selection->carried[entry.sha256] = **row;
    }
    commits.push_back(CommitJson(commit, std::move(entry_list)));
  }
  json lineage = json::array();
  if (repo.type == RepoType::kModel) {
    auto edges = registry.ParentEdges(repo.name);
    if (!edges.ok()) return edges.status();
    for (const auto& edge : *edges) {
      lineage.push_back({{"parent", edge.parent},
                         {"relation", edge.relation},
                         {"source", edge.source},
                         {"inferred", edge.inferred}});
    }
  }
  selection->commits += commits.size();
  json repo_json = {{"type", RepoTypeName(repo.type)},
                    {"name", repo.name},
                    {"default_branch", repo.default_branch},
                    {"commits", std::move(commits)},
                    {"lineage", std::move(lineage)}};
  repo_json.update(RefsJson(*refs));
  repo_json.update(RepoDetailsJson(repo));
  return repo_json;
}

Result<Selection> Select(registry::Registry& registry, const ExportOptions& options,
                         const std::set<std::string>& have) {
  registry::ReadSnapshot snapshot(registry);
  HM_RETURN_IF_ERROR(snapshot.status());
  auto selected = SelectRepos(registry, options.all, options.repos);
  if (!selected.ok()) return selected.status();
  Selection selection;
  for (const auto& repo : *selected) {
    auto repo_json = RepoJson(registry, repo, have, &selection);
    if (!repo_json.ok()) return repo_json.status();
    selection.repos.push_back(std::move(repo_json.value()));
  }
  return selection;
}

// The digests an inventory lists as stored.
Result<std::set<std::string>> HaveBlobs(const std::optional<json>& inventory) {
  std::set<std::string> have;
  if (!inventory) return have;
  auto blobs = inventory->is_object() ? inventory->find("blobs") : inventory->end();
  if (blobs == inventory->end() || !blobs->is_array()) {
    return InvalidArgument("the inventory has no \"blobs\" list (see hubmirror inventory)");
  }
  for (const auto& digest : *blobs) {
    if (digest.is_string()) have.insert(digest.get<std::string>());
  }
  return have;
}

// Makes `out` hold only what this run may keep: its own volumes of an interrupted run that
// planned the very same stream, nothing of another bundle (a volume of it must not travel with
// this one). True when the volumes there are this plan's.
Result<bool> PrepareDirectory(const fs::path& out, const json& plan, uint64_t volumes) {
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec) return IoError("cannot create " + out.string() + ": " + ec.message());
  auto previous = ReadTextFile(out / kPlanFile);
  bool same_plan = previous.ok() && json::parse(*previous, nullptr, false) == plan;
  fs::remove(out / kBundleFile, ec);
  for (const auto& item : fs::directory_iterator(out, ec)) {
    std::string name = item.path().filename().string();
    if (!name.starts_with("volume-")) continue;
    bool ours = false;
    for (uint64_t volume = 0; same_plan && volume < volumes && !ours; ++volume) {
      ours = name == VolumeName(static_cast<size_t>(volume));
    }
    if (!ours) fs::remove(item.path(), ec);
  }
  if (!same_plan) HM_RETURN_IF_ERROR(WriteFileAtomically(out / kPlanFile, plan.dump()));
  return same_plan;
}

}  // namespace

Result<json> Inventory(registry::Registry& registry) {
  registry::ReadSnapshot snapshot(registry);
  HM_RETURN_IF_ERROR(snapshot.status());
  auto selected = SelectRepos(registry, true, {});
  if (!selected.ok()) return selected.status();
  json repos = json::array();
  for (const auto& repo : *selected) {
    auto refs = registry.ListRefs(repo);
    if (!refs.ok()) return refs.status();
    auto history = History(registry, repo, *refs);
    if (!history.ok()) return history.status();
    json commits = json::array();
    for (const auto& commit : *history) commits.push_back(commit.id);
    json repo_json = {{"type", RepoTypeName(repo.type)}, {"name", repo.name}, {"commits", commits}};
    repo_json.update(RefsJson(*refs));
    repos.push_back(std::move(repo_json));
  }
  auto stored = registry.ListBlobs(std::nullopt, "");
  if (!stored.ok()) return stored.status();
  json blobs = json::array();
  for (const auto& blob : *stored) {
    if (blob.state == registry::BlobState::kOk) blobs.push_back(blob.sha256);
  }
  return json{{"format", kBundleFormat}, {"repos", repos}, {"blobs", blobs}};
}

Result<ExportReport> ExportBundle(storage::BlobStore& store, registry::Registry& registry,
                                  const SigningKey& key, const ExportOptions& options,
                                  MirrorObserver* observer) {
  if (options.volume_size == 0) return InvalidArgument("the volume size must be positive");
  auto have = HaveBlobs(options.have);
  if (!have.ok()) return have.status();
  auto selection = Select(registry, options, *have);
  if (!selection.ok()) return selection.status();

  ExportReport report;
  report.repos = selection->repos.size();
  report.commits = selection->commits;
  std::vector<BundleBlob> stream;
  json blobs = json::array();
  for (const auto& [digest, row] : selection->carried) {
    stream.push_back({digest, row.size, row.git_sha1, report.bytes});
    blobs.push_back(BlobJson(stream.back()));
    report.bytes += row.size;
  }
  report.blobs = stream.size();
  report.volumes = static_cast<size_t>(VolumeCount(report.bytes, options.volume_size));
  json plan = {{"volume_size", options.volume_size}, {"blobs", blobs}};
  json bundle = {{"format", kBundleFormat},
                 {"created_at", FormatIsoMillis(NowUnixMillis())},
                 {"volume_size", options.volume_size},
                 {"volumes", report.volumes},
                 {"bytes", report.bytes},
                 {"repos", std::move(selection->repos)},
                 {"blobs", std::move(blobs)}};

  auto same_plan = PrepareDirectory(options.out, plan, report.volumes);
  if (!same_plan.ok()) return same_plan.status();
  if (observer != nullptr) observer->OnPlanned(report.volumes, report.bytes);
  VolumeWriter writer(store, options.out, stream, options.volume_size);
  for (size_t volume = 0; volume < report.volumes; ++volume) {
    uint64_t size = std::min(options.volume_size, report.bytes - volume * options.volume_size);
    fs::path path = options.out / VolumeName(volume);
    std::error_code ec;
    if (*same_plan && fs::file_size(path, ec) == size && !ec) {
      ++report.volumes_kept;
      if (observer != nullptr) observer->OnFileStored(path.filename(), size, false);
      continue;
    }
    HM_RETURN_IF_ERROR(writer.Write(volume, observer));
  }

  auto document = SignJson(key, "bundle", std::move(bundle));
  if (!document.ok()) return document.status();
  HM_RETURN_IF_ERROR(WriteFileAtomically(
      options.out / kBundleFile, document->dump(1, ' ', false, json::error_handler_t::replace)));
  std::error_code ec;
  fs::remove(options.out / kPlanFile, ec);
  return report;
}

}  // namespace hubmirror::sync
