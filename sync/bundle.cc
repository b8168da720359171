#include "sync/bundle.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>

#include "common/clock.h"
#include "common/digest.h"
#include "common/files.h"
#include "common/log.h"

namespace hubmirror::sync {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr int kFormat = 1;
constexpr const char* kBundleFile = "bundle.json";
constexpr const char* kPlanFile = "bundle.plan.json";
constexpr size_t kCopyBytes = 1 << 20;

std::string VolumeName(size_t index) {
  char name[32];
  std::snprintf(name, sizeof name, "volume-%05zu.dat", index + 1);
  return name;
}

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

// The commits reachable from a repo's branches, oldest first, each once.
Result<std::vector<registry::Commit>> History(registry::Registry& registry,
                                              const registry::Repo& repo,
                                              const std::vector<registry::Ref>& branches) {
  std::vector<registry::Commit> history;
  std::set<std::string> seen;
  for (const auto& branch : branches) {
    int64_t total = 0;
    auto commits = registry.ListHistory(repo, branch.commit_id, 0, INT64_MAX / 2, &total);
    if (!commits.ok()) return commits.status();
    for (auto it = commits->rbegin(); it != commits->rend(); ++it) {
      if (seen.insert(it->id).second) history.push_back(std::move(*it));
    }
  }
  return history;
}

json EntryJson(const registry::Entry& entry) {
  return {{"path", entry.path},
          {"type", entry.is_directory ? "directory" : "file"},
          {"size", entry.size},
          {"git_oid", entry.git_oid},
          {"sha256", entry.sha256},
          {"lfs", entry.lfs},
          {"pointer_size", entry.pointer_size},
          {"last_commit_id", entry.last_commit_id}};
}

json CommitJson(const registry::Commit& commit, json entries) {
  return {{"id", commit.id},
          {"parent_id", commit.parent_id},
          {"tree_id", commit.tree_id},
          {"title", commit.title},
          {"message", commit.message},
          {"author", commit.author},
          {"date", commit.date_ms},
          {"card_data", commit.card_data_json},
          {"tags", commit.tags},
          {"pipeline_tag", commit.pipeline_tag},
          {"library_name", commit.library_name},
          {"entries", std::move(entries)}};
}

Status WriteFileAtomically(const fs::path& path, const std::string& content) {
  fs::path temporary = path.string() + ".tmp";
  int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return IoError("cannot create " + temporary.string());
  bool written =
      ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()) &&
      ::fsync(fd) == 0;
  ::close(fd);
  if (!written || ::rename(temporary.c_str(), path.c_str()) != 0) {
    return IoError("cannot write " + path.string());
  }
  return Status::Ok();
}

// Reads bytes of the volumes' single stream. Not thread-safe.
class VolumeReader {
 public:
  VolumeReader(fs::path dir, uint64_t volume_size) : dir_(std::move(dir)), size_(volume_size) {}
  ~VolumeReader() {
    if (fd_ >= 0) ::close(fd_);
  }

  Status Read(uint64_t offset, char* data, size_t length) {
    while (length > 0) {
      size_t volume = static_cast<size_t>(offset / size_);
      uint64_t within = offset % size_;
      if (volume != open_volume_ || fd_ < 0) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = ::open((dir_ / VolumeName(volume)).c_str(), O_RDONLY | O_CLOEXEC);
        open_volume_ = volume;
        if (fd_ < 0) return Corrupt("the bundle's " + VolumeName(volume) + " is missing");
      }
      size_t take = static_cast<size_t>(std::min<uint64_t>(length, size_ - within));
      ssize_t got = ::pread(fd_, data, take, static_cast<off_t>(within));
      if (got <= 0) return Corrupt("the bundle's " + VolumeName(volume) + " is short");
      data += got;
      length -= static_cast<size_t>(got);
      offset += static_cast<uint64_t>(got);
    }
    return Status::Ok();
  }

 private:
  fs::path dir_;
  uint64_t size_;
  size_t open_volume_ = SIZE_MAX;
  int fd_ = -1;
};

}  // namespace

Result<json> Inventory(registry::Registry& registry) {
  registry::ReadSnapshot snapshot(registry);
  HM_RETURN_IF_ERROR(snapshot.status());
  auto selected = SelectRepos(registry, true, {});
  if (!selected.ok()) return selected.status();
  json repos = json::array();
  for (const auto& repo : *selected) {
    auto listed = registry.ListRefs(repo);
    if (!listed.ok()) return listed.status();
    json refs = json::object();
    std::vector<registry::Ref> branches;
    for (const auto& ref : *listed) {
      if (ref.kind != "branch") continue;
      refs[ref.name] = ref.commit_id;
      branches.push_back(ref);
    }
    auto history = History(registry, repo, branches);
    if (!history.ok()) return history.status();
    json commits = json::array();
    for (const auto& commit : *history) commits.push_back(commit.id);
    repos.push_back({{"type", RepoTypeName(repo.type)},
                     {"name", repo.name},
                     {"refs", refs},
                     {"commits", commits}});
  }
  auto stored = registry.ListBlobs(std::nullopt, "");
  if (!stored.ok()) return stored.status();
  json blobs = json::array();
  for (const auto& blob : *stored) {
    if (blob.state == "ok") blobs.push_back(blob.sha256);
  }
  return json{{"format", kFormat}, {"repos", repos}, {"blobs", blobs}};
}

Result<ExportReport> ExportBundle(storage::BlobStore& store, registry::Registry& registry,
                                  const SigningKey& key, const ExportOptions& options,
                                  MirrorObserver* observer) {
  if (options.volume_size == 0) return InvalidArgument("the volume size must be positive");
  std::set<std::string> have;
  if (options.have) {
    auto blobs = options.have->is_object() ? options.have->find("blobs") : options.have->end();
    if (blobs == options.have->end() || !blobs->is_array()) {
      return InvalidArgument("the inventory has no \"blobs\" list (see hubmirror inventory)");
    }
    for (const auto& digest : *blobs) {
      if (digest.is_string()) have.insert(digest.get<std::string>());
    }
  }
  ExportReport report;
  json repos = json::array();
  std::map<std::string, registry::BlobRow> carried;  // by digest: the order of the stream
  {
    registry::ReadSnapshot snapshot(registry);
    HM_RETURN_IF_ERROR(snapshot.status());
    auto selected = SelectRepos(registry, options.all, options.repos);
    if (!selected.ok()) return selected.status();
    for (const auto& repo : *selected) {
      auto refs = registry.ListRefs(repo);
      if (!refs.ok()) return refs.status();
      std::vector<registry::Ref> branches;
      json ref_map = json::object();
      for (const auto& ref : *refs) {
        if (ref.kind != "branch") continue;
        branches.push_back(ref);
        ref_map[ref.name] = ref.commit_id;
      }
      auto history = History(registry, repo, branches);
      if (!history.ok()) return history.status();
      json commits = json::array();
      for (const auto& commit : *history) {
        auto entries = registry.ListEntries(repo, commit.id, "");
        if (!entries.ok()) return entries.status();
        json entry_list = json::array();
        for (const auto& entry : *entries) {
          entry_list.push_back(EntryJson(entry));
          if (entry.is_directory || have.contains(entry.sha256) || carried.contains(entry.sha256)) {
            continue;
          }
          auto row = registry.FindBlob(entry.sha256);
          if (!row.ok()) return row.status();
          if (!*row) return Corrupt("no blob row for " + entry.sha256 + " (" + entry.path + ")");
          carried[entry.sha256] = **row;
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
      report.commits += commits.size();
      repos.push_back({{"type", RepoTypeName(repo.type)},
                       {"name", repo.name},
                       {"default_branch", repo.default_branch},
                       {"refs", ref_map},
                       {"commits", std::move(commits)},
                       {"lineage", std::move(lineage)},
                       {"pipeline_tag", repo.pipeline_tag},
                       {"library_name", repo.library_name},
                       {"downloads", repo.downloads}});
    }
  }
  report.repos = repos.size();

  json blobs = json::array();
  uint64_t offset = 0;
  std::vector<std::pair<registry::BlobRow, uint64_t>> layout;
  for (const auto& [digest, row] : carried) {
    blobs.push_back(
        {{"sha256", digest}, {"size", row.size}, {"git_sha1", row.git_sha1}, {"offset", offset}});
    layout.emplace_back(row, offset);
    offset += row.size;
  }
  report.blobs = carried.size();
  report.bytes = offset;
  report.volumes = static_cast<size_t>((offset + options.volume_size - 1) / options.volume_size);

  json bundle = {{"format", kFormat},         {"created_at", FormatIsoMillis(NowUnixMillis())},
                 {"key_id", key.key_id()},    {"volume_size", options.volume_size},
                 {"volumes", report.volumes}, {"bytes", offset},
                 {"repos", std::move(repos)}, {"blobs", std::move(blobs)}};

  std::error_code ec;
  fs::create_directories(options.out, ec);
  if (ec) return IoError("cannot create " + options.out.string() + ": " + ec.message());
  // Volumes of an interrupted run are kept only when that run planned the very same stream.
  json plan = {{"volume_size", options.volume_size}, {"blobs", bundle["blobs"]}};
  auto previous = ReadTextFile(options.out / kPlanFile);
  bool same_plan = previous.ok() && json::parse(*previous, nullptr, false) == plan;
  fs::remove(options.out / kBundleFile, ec);
  // Volumes this plan does not own (another bundle's, or beyond its count) must not travel.
  for (const auto& item : fs::directory_iterator(options.out, ec)) {
    std::string name = item.path().filename().string();
    if (!name.starts_with("volume-")) continue;
    bool ours = false;
    for (size_t volume = 0; same_plan && volume < report.volumes && !ours; ++volume) {
      ours = name == VolumeName(volume);
    }
    if (!ours) fs::remove(item.path(), ec);
  }
  if (!same_plan) HM_RETURN_IF_ERROR(WriteFileAtomically(options.out / kPlanFile, plan.dump()));
  if (observer != nullptr) observer->OnPlanned(report.volumes, offset);

  std::vector<char> buffer(kCopyBytes);
  size_t next_blob = 0;
  for (size_t volume = 0; volume < report.volumes; ++volume) {
    uint64_t begin = volume * options.volume_size;
    uint64_t end = std::min(offset, begin + options.volume_size);
    fs::path path = options.out / VolumeName(volume);
    if (same_plan && fs::file_size(path, ec) == end - begin && !ec) {
      ++report.volumes_kept;
      if (observer != nullptr) observer->OnFileStored(path.filename(), end - begin, false);
      continue;
    }
    fs::path temporary = path.string() + ".part";
    int out = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) return IoError("cannot create " + temporary.string());
    Status written;
    while (next_blob < layout.size() &&
           layout[next_blob].second + layout[next_blob].first.size <= begin) {
      ++next_blob;
    }
    for (size_t b = next_blob; written.ok() && b < layout.size() && layout[b].second < end; ++b) {
      const auto& [row, blob_offset] = layout[b];
      auto file = store.Open(row.sha256);
      if (!file.ok()) {
        written =
            Status(file.status().code(), "blob " + row.sha256 + ": " + file.status().message() +
                                             " (hubmirror verify, then sync, repairs it)");
        break;
      }
      uint64_t from = std::max(begin, blob_offset) - blob_offset;
      uint64_t to = std::min(end, blob_offset + row.size) - blob_offset;
      while (written.ok() && from < to) {
        size_t take = static_cast<size_t>(std::min<uint64_t>(to - from, buffer.size()));
        ssize_t got = ::pread(file->fd(), buffer.data(), take, static_cast<off_t>(from));
        if (got <= 0 || ::write(out, buffer.data(), static_cast<size_t>(got)) != got) {
          written = IoError("cannot copy blob " + row.sha256 + " into " + temporary.string());
          break;
        }
        from += static_cast<uint64_t>(got);
        if (observer != nullptr) {
          observer->OnBytes(path.filename(), end - begin, static_cast<uint64_t>(got));
        }
      }
    }
    if (written.ok() && ::fsync(out) != 0) written = IoError("cannot sync " + temporary.string());
    ::close(out);
    if (written.ok() && ::rename(temporary.c_str(), path.c_str()) != 0) {
      written = IoError("cannot rename " + temporary.string());
    }
    HM_RETURN_IF_ERROR(written);
    if (observer != nullptr) observer->OnFileStored(path.filename(), end - begin, true);
  }
  auto signature = key.Sign(bundle.dump(-1, ' ', false, json::error_handler_t::replace));
  if (!signature.ok()) return signature.status();
  json document = {{"bundle", std::move(bundle)}, {"signature", *signature}};
  HM_RETURN_IF_ERROR(WriteFileAtomically(
      options.out / kBundleFile, document.dump(1, ' ', false, json::error_handler_t::replace)));
  fs::remove(options.out / kPlanFile, ec);
  return report;
}

namespace {

// The bundle's content, checked for shape: every id, path and digest valid.
Status CheckBundleShape(const json& bundle) {
  auto bad = [](const std::string& why) { return Corrupt("malformed bundle: " + why); };
  if (!bundle.is_object() || bundle.value("format", 0) != kFormat) return bad("unknown format");
  if (!bundle.at("repos").is_array() || !bundle.at("blobs").is_array())
    return bad("no repos or blobs");
  if (!bundle.at("volume_size").is_number_unsigned() ||
      bundle.at("volume_size").get<uint64_t>() == 0) {
    return bad("no volume size");
  }
  for (const auto& repo : bundle.at("repos")) {
    RepoType type;
    if (!repo.is_object() || !ParseRepoType(repo.value("type", ""), &type) ||
        !ValidateRepoId(repo.value("name", "")).ok() || !repo.at("commits").is_array() ||
        !repo.at("refs").is_object()) {
      return bad("a repo without a valid type, name, refs or commits");
    }
    for (const auto& commit : repo.at("commits")) {
      if (!commit.is_object() || !IsSha1Hex(commit.value("id", "")) ||
          !commit.at("entries").is_array()) {
        return bad("a commit of " + repo.value("name", "") + " without id or entries");
      }
      for (const auto& entry : commit.at("entries")) {
        std::string type = entry.is_object() ? entry.value("type", "") : "";
        if ((type != "file" && type != "directory") ||
            !ValidateRepoPath(entry.value("path", "")).ok() ||
            (type == "file" && !IsSha256Hex(entry.value("sha256", "")))) {
          return bad("an invalid entry in " + repo.value("name", "") + "@" +
                     commit.value("id", ""));
        }
      }
    }
  }
  for (const auto& blob : bundle.at("blobs")) {
    if (!blob.is_object() || !IsSha256Hex(blob.value("sha256", "")) ||
        !blob.at("size").is_number_unsigned() || !blob.at("offset").is_number_unsigned()) {
      return bad("an invalid blob");
    }
  }
  return Status::Ok();
}

registry::Entry EntryFromJson(const json& item) {
  registry::Entry entry;
  entry.path = item.value("path", "");
  entry.is_directory = item.value("type", "") == "directory";
  entry.size = item.value("size", uint64_t{0});
  entry.git_oid = item.value("git_oid", "");
  entry.sha256 = entry.is_directory ? "" : item.value("sha256", "");
  entry.lfs = item.value("lfs", false);
  entry.pointer_size = item.value("pointer_size", uint64_t{0});
  entry.last_commit_id = item.value("last_commit_id", "");
  return entry;
}

registry::Commit CommitFromJson(const json& item) {
  registry::Commit commit;
  commit.id = item.value("id", "");
  commit.parent_id = item.value("parent_id", "");
  commit.tree_id = item.value("tree_id", "");
  commit.title = item.value("title", "");
  commit.message = item.value("message", "");
  commit.author = item.value("author", "");
  commit.date_ms = item.value("date", int64_t{0});
  commit.card_data_json = item.value("card_data", "");
  if (item.contains("tags") && item.at("tags").is_array()) {
    for (const auto& tag : item.at("tags")) {
      if (tag.is_string()) commit.tags.push_back(tag.get<std::string>());
    }
  }
  commit.pipeline_tag = item.value("pipeline_tag", "");
  commit.library_name = item.value("library_name", "");
  return commit;
}

Result<ImportBundleReport> ImportBundleUnchecked(storage::BlobStore& store,
                                                 registry::Registry& registry,
                                                 const ImportBundleOptions& options,
                                                 MirrorObserver* observer) {
  auto text = ReadTextFile(options.bundle / kBundleFile);
  if (!text.ok()) {
    return InvalidArgument(options.bundle.string() + " is not a finished bundle (no " +
                           kBundleFile + ")");
  }
  json document = json::parse(*text, nullptr, false);
  if (!document.is_object() || !document.at("bundle").is_object() ||
      !document.at("signature").is_string()) {
    return Corrupt("malformed " + std::string(kBundleFile));
  }
  const json& bundle = document.at("bundle");
  ImportBundleReport report;
  report.signer = bundle.value("key_id", "");
  std::string message = bundle.dump(-1, ' ', false, json::error_handler_t::replace);
  std::string signature = document.at("signature").get<std::string>();
  for (const auto& key : options.trusted_keys) {
    if (key->key_id() != report.signer) continue;
    if (!key->Verify(message, signature)) {
      return Corrupt(
          "the bundle's signature does not match its content: it was altered after "
          "key " +
          report.signer + " signed it");
    }
    report.trusted = true;
  }
  if (!report.trusted) {
    if (!options.allow_untrusted) {
      return Status(StatusCode::kFailedPrecondition,
                    "the bundle is signed by key " + report.signer +
                        ", which is not trusted: pass its public key with --trusted-key");
    }
    Log(LogLevel::kWarning, "IMPORTING A BUNDLE FROM AN UNTRUSTED SIGNER (key " + report.signer +
                                "): its content is verified against its own manifest only");
  }
  HM_RETURN_IF_ERROR(CheckBundleShape(bundle));

  // Every volume must be there, whole, before anything is stored.
  uint64_t volume_size = bundle.at("volume_size").get<uint64_t>();
  uint64_t total = bundle.value("bytes", uint64_t{0});
  size_t volumes = static_cast<size_t>((total + volume_size - 1) / volume_size);
  for (size_t volume = 0; volume < volumes; ++volume) {
    std::error_code ec;
    uint64_t expected = std::min(volume_size, total - volume * volume_size);
    uint64_t actual = fs::file_size(options.bundle / VolumeName(volume), ec);
    if (ec) return Corrupt("the bundle's " + VolumeName(volume) + " is missing");
    if (actual != expected) {
      return Corrupt("the bundle's " + VolumeName(volume) + " has " + std::to_string(actual) +
                     " bytes, expected " + std::to_string(expected));
    }
  }

  std::vector<const json*> to_store;
  uint64_t to_store_bytes = 0;
  for (const auto& blob : bundle.at("blobs")) {
    auto contains = store.Contains(blob.at("sha256").get<std::string>());
    if (!contains.ok()) return contains.status();
    if (*contains) {
      ++report.skipped_blobs;
    } else {
      to_store.push_back(&blob);
      to_store_bytes += blob.at("size").get<uint64_t>();
    }
  }
  if (observer != nullptr) observer->OnPlanned(to_store.size(), to_store_bytes);
  VolumeReader reader(options.bundle, volume_size);
  std::vector<char> buffer(kCopyBytes);
  for (const json* blob : to_store) {
    std::string sha256 = (*blob).at("sha256").get<std::string>();
    uint64_t size = (*blob).at("size").get<uint64_t>();
    uint64_t offset = (*blob).at("offset").get<uint64_t>();
    if (offset + size > total) return Corrupt("blob " + sha256 + " lies past the volumes' end");
    storage::BlobExpectation expectation{size, sha256, blob->value("git_sha1", "")};
    expectation.compute_git_sha1 = !expectation.git_sha1.empty();
    auto writer = store.NewWriter(expectation);
    if (!writer.ok()) return writer.status();
    for (uint64_t done = 0; done < size;) {
      size_t take = static_cast<size_t>(std::min<uint64_t>(size - done, buffer.size()));
      HM_RETURN_IF_ERROR(reader.Read(offset + done, buffer.data(), take));
      HM_RETURN_IF_ERROR((*writer)->Append(buffer.data(), take));
      done += take;
      if (observer != nullptr) observer->OnBytes(sha256, size, take);
    }
    auto stored = (*writer)->Commit();
    if (!stored.ok()) {
      return Status(stored.status().code(),
                    "blob " + sha256 + " of the bundle: " + stored.status().message());
    }
    ++report.new_blobs;
    report.new_bytes += size;
    if (observer != nullptr) observer->OnFileStored(sha256, size, true);
  }

  // Every file must now have its content here: carried, or already stored.
  std::map<std::string, std::string> carried_git_sha1;
  for (const auto& blob : bundle.at("blobs")) {
    carried_git_sha1[blob.at("sha256").get<std::string>()] = blob.value("git_sha1", "");
  }
  std::vector<registry::NewRevision> revisions;
  std::vector<registry::LineageEdge> edges;
  std::vector<registry::ModelDetails> details;
  for (const auto& repo : bundle.at("repos")) {
    RepoType type = RepoType::kModel;
    ParseRepoType(repo.at("type").get<std::string>(), &type);
    std::string name = repo.at("name").get<std::string>();
    std::string default_branch = repo.value("default_branch", "main");
    ++report.repos;
    std::map<std::string, std::vector<std::string>> branches_at;  // commit -> branches
    for (const auto& [branch, commit] : repo.at("refs").items()) {
      if (ValidateRevisionName(branch).ok() && commit.is_string()) {
        branches_at[commit.get<std::string>()].push_back(branch);
      }
    }
    std::vector<registry::LineageEdge> card_edges;
    for (const auto& edge : repo.value("lineage", json::array())) {
      registry::LineageEdge parsed{name, edge.value("parent", ""), edge.value("relation", ""),
                                   edge.value("source", ""), edge.value("inferred", false)};
      if (!ValidateRepoId(parsed.parent).ok()) continue;
      bool own = parsed.source == "card" || parsed.source == "baseModels";
      (own ? card_edges : edges).push_back(std::move(parsed));
    }
    if (type == RepoType::kModel) {
      details.push_back({name, repo.value("pipeline_tag", ""), repo.value("library_name", ""),
                         repo.value("downloads", int64_t{0})});
    }
    std::vector<registry::NewRevision> heads;
    for (const auto& item : repo.at("commits")) {
      registry::NewRevision revision;
      revision.type = type;
      revision.repo_name = name;
      revision.default_branch = default_branch;
      revision.commit = CommitFromJson(item);
      for (const auto& entry_item : item.at("entries")) {
        registry::Entry entry = EntryFromJson(entry_item);
        if (!entry.is_directory) {
          auto contains = store.Contains(entry.sha256);
          if (!contains.ok()) return contains.status();
          if (!*contains) {
            return Corrupt(std::string(RepoTypeName(type)) + " " + name + "@" + revision.commit.id +
                           " " + entry.path + ": content " + entry.sha256 +
                           " is neither in the bundle nor stored here");
          }
          auto row = registry.FindBlob(entry.sha256);
          if (!row.ok()) return row.status();
          auto carried = carried_git_sha1.find(entry.sha256);
          revision.blobs.push_back(
              *row ? **row
                   : registry::BlobRow{entry.sha256, entry.size,
                                       carried != carried_git_sha1.end() ? carried->second : ""});
        }
        revision.entries.push_back(std::move(entry));
      }
      ++report.commits;
      auto at = branches_at.find(revision.commit.id);
      if (at == branches_at.end()) {
        revisions.push_back(std::move(revision));
        continue;
      }
      // The default branch goes last: it carries the repo's card and lineage.
      std::stable_partition(at->second.begin(), at->second.end(),
                            [&](const std::string& branch) { return branch != default_branch; });
      for (const auto& branch : at->second) {
        registry::NewRevision head = revision;
        head.branch = branch;
        if (branch == default_branch) head.lineage = card_edges;
        heads.push_back(std::move(head));
      }
    }
    revisions.insert(revisions.end(), std::make_move_iterator(heads.begin()),
                     std::make_move_iterator(heads.end()));
  }
  auto published = registry.PublishRevisions(revisions);
  if (!published.ok()) return published.status();
  report.commits_published = *published;
  // Published: a failure from here on must not read as "nothing published".
  Status recorded = registry.AddLineageEdges(edges);
  if (recorded.ok()) recorded = registry.RecordModelDetails(details);
  if (!recorded.ok()) {
    return Status(recorded.code(),
                  "the commits were published, but the lineage recorded by "
                  "other models was not: " +
                      recorded.message());
  }
  return report;
}

}  // namespace

Result<ImportBundleReport> ImportBundle(storage::BlobStore& store, registry::Registry& registry,
                                        const ImportBundleOptions& options,
                                        MirrorObserver* observer) {
  // bundle.json comes from removable media: a field of the wrong type or a missing one is a
  // malformed bundle, whatever the signature says.
  try {
    return ImportBundleUnchecked(store, registry, options, observer);
  } catch (const json::exception& e) {
    return Corrupt("malformed " + std::string(kBundleFile) + ": " + e.what());
  }
}

}  // namespace hubmirror::sync
