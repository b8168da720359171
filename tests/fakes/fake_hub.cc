#include "tests/fakes/fake_hub.h"

#include "common/digest.h"
#include "common/names.h"
#include "sync/hub_json.h"

namespace hubmirror::testing {
namespace {

std::string RepoKey(RepoType type, const std::string& repo) {
  return std::string(RepoTypeName(type)) + " " + AsciiLower(repo);
}

Status RepoNotFound(const std::string& repo) {
  return Status(StatusCode::kRepoNotFound, repo + " not found upstream");
}

RefName RefOf(const std::string& ref) {
  return ParseFullRefName(ref).value_or(RefName{RefKind::kBranch, ref});
}

}  // namespace

std::string FakeHub::Publish(RepoType type, const std::string& repo, const std::string& ref,
                             nlohmann::json info, const std::map<std::string, File>& files) {
  std::string identity = repo;
  for (const auto& [path, file] : files) {
    identity += "\n" + path + (file.lfs ? " lfs " : " git ") + Sha256Hex(file.content);
  }
  std::string commit_id = GitObjectId("commit", identity + info.dump());
  if (!info.contains("id")) info["id"] = repo;
  if (!info.contains("_id")) info["_id"] = "0123456789abcdef01234567";
  info["sha"] = commit_id;
  std::lock_guard lock(mutex_);
  Repo& stored = repos_[RepoKey(type, repo)];
  stored.commits[commit_id] = Commit{std::move(info), files};
  stored.refs[RefOf(ref)] = commit_id;
  return commit_id;
}

void FakeHub::UpdateInfo(RepoType type, const std::string& repo, const nlohmann::json& fields) {
  std::lock_guard lock(mutex_);
  for (auto& [id, commit] : repos_[RepoKey(type, repo)].commits) commit.info.update(fields);
}

void FakeHub::DeleteRef(RepoType type, const std::string& repo, const std::string& ref) {
  std::lock_guard lock(mutex_);
  repos_[RepoKey(type, repo)].refs.erase(RefOf(ref));
}

void FakeHub::Delete(RepoType type, const std::string& repo) {
  std::lock_guard lock(mutex_);
  repos_.erase(RepoKey(type, repo));
}

void FakeHub::SetChildren(const std::string& parent, const std::string& relation,
                          std::vector<nlohmann::json> listed_models) {
  std::lock_guard lock(mutex_);
  children_[relation + ":" + AsciiLower(parent)] = std::move(listed_models);
}

void FakeHub::FailNext(Call call, Status status, int count) {
  std::lock_guard lock(mutex_);
  for (int i = 0; i < count; ++i) failures_[call].push_back(status);
}

void FakeHub::CorruptNextDownloads(const std::string& path, int count) {
  std::lock_guard lock(mutex_);
  corruptions_[path] += count;
}

size_t FakeHub::Calls(Call call) const {
  std::lock_guard lock(mutex_);
  auto it = calls_.find(call);
  return it == calls_.end() ? 0 : it->second;
}

size_t FakeHub::TotalCalls() const {
  std::lock_guard lock(mutex_);
  size_t total = 0;
  for (const auto& [call, count] : calls_) total += count;
  return total;
}

void FakeHub::ResetCounts() {
  std::lock_guard lock(mutex_);
  calls_.clear();
}

std::optional<Status> FakeHub::Enter(Call call) {
  ++calls_[call];
  auto& queued = failures_[call];
  if (queued.empty()) return std::nullopt;
  Status failure = queued.front();
  queued.erase(queued.begin());
  return failure;
}

const FakeHub::Repo* FakeHub::FindRepo(RepoType type, const std::string& repo) const {
  auto it = repos_.find(RepoKey(type, repo));
  return it == repos_.end() ? nullptr : &it->second;
}

nlohmann::json FakeHub::TreeJson(const std::string& commit_id) const {
  std::lock_guard lock(mutex_);
  nlohmann::json tree = nlohmann::json::array();
  for (const auto& [key, repo] : repos_) {
    auto commit = repo.commits.find(commit_id);
    if (commit == repo.commits.end()) continue;
    for (const auto& [path, file] : commit->second.files) {
      nlohmann::json entry = {{"type", "file"}, {"path", path}, {"size", file.content.size()}};
      if (file.lfs) {
        std::string sha256 = Sha256Hex(file.content);
        std::string pointer = LfsPointer(sha256, file.content.size());
        entry["oid"] = GitObjectId("blob", pointer);
        entry["lfs"] = {
            {"oid", sha256}, {"size", file.content.size()}, {"pointerSize", pointer.size()}};
      } else {
        entry["oid"] = GitObjectId("blob", file.content);
      }
      tree.push_back(std::move(entry));
    }
  }
  return tree;
}

Result<sync::RemoteRevision> FakeHub::GetRevision(RepoType type, const std::string& repo,
                                                  const std::string& revision) {
  nlohmann::json info;
  {
    std::lock_guard lock(mutex_);
    if (auto failure = Enter(Call::kGetRevision)) return *failure;
    const Repo* found = FindRepo(type, repo);
    if (found == nullptr) return RepoNotFound(repo);
    // As the Hub resolves a revision: a branch before a tag of the same name, then the other
    // kinds by their full names, then a commit id.
    std::string commit_id = revision;
    for (RefName candidate : {RefOf(revision), RefName{RefKind::kTag, revision}}) {
      if (auto ref = found->refs.find(candidate); ref != found->refs.end()) {
        commit_id = ref->second;
        break;
      }
    }
    auto commit = found->commits.find(commit_id);
    if (commit == found->commits.end()) {
      return Status(StatusCode::kRevisionNotFound, repo + "@" + revision + " not found upstream");
    }
    info = commit->second.info;
  }
  return sync::ParseRevisionInfo(info, repo, repo + "@" + revision);
}

Result<sync::RemoteCommit> FakeHub::GetCommit(RepoType type, const std::string& repo,
                                              const std::string& commit_id) {
  std::lock_guard lock(mutex_);
  if (auto failure = Enter(Call::kGetCommit)) return *failure;
  if (FindRepo(type, repo) == nullptr) return RepoNotFound(repo);
  nlohmann::json page = nlohmann::json::array({{{"id", commit_id},
                                                {"title", "Upload " + repo},
                                                {"message", "Upload " + repo + "\n"},
                                                {"authors", {{{"user", "fake-author"}}}},
                                                {"date", "2024-10-01T12:34:56.000Z"}}});
  return sync::ParseFirstCommit(page).value_or(sync::RemoteCommit{});
}

Result<std::vector<sync::RemoteRef>> FakeHub::ListRefs(RepoType type, const std::string& repo) {
  std::lock_guard lock(mutex_);
  if (auto failure = Enter(Call::kListRefs)) return *failure;
  const Repo* found = FindRepo(type, repo);
  if (found == nullptr) return RepoNotFound(repo);
  std::vector<sync::RemoteRef> refs;
  for (const auto& [ref, commit_id] : found->refs) refs.push_back({ref, commit_id});
  return refs;
}

Result<std::vector<std::string>> FakeHub::ListRepoIds(RepoType type, const std::string& author) {
  std::lock_guard lock(mutex_);
  if (auto failure = Enter(Call::kListRepoIds)) return *failure;
  std::vector<std::string> ids;
  std::string prefix = std::string(RepoTypeName(type)) + " " + AsciiLower(author) + "/";
  for (const auto& [key, repo] : repos_) {
    if (!key.starts_with(prefix) || repo.refs.empty()) continue;
    const auto& info = repo.commits.at(repo.refs.begin()->second).info;
    ids.push_back(sync::StringField(info, "id"));
  }
  return ids;
}

Result<std::vector<sync::RemoteModel>> FakeHub::ListChildren(const std::string& parent,
                                                             const std::string& relation) {
  std::lock_guard lock(mutex_);
  if (auto failure = Enter(Call::kListChildren)) return *failure;
  std::vector<sync::RemoteModel> models;
  auto listed = children_.find(relation + ":" + AsciiLower(parent));
  if (listed == children_.end()) return models;
  for (const auto& item : listed->second) {
    if (auto model = sync::ParseListedModel(item)) models.push_back(std::move(*model));
  }
  return models;
}

Result<std::vector<sync::RemoteEntry>> FakeHub::ListTree(RepoType type, const std::string& repo,
                                                         const std::string& commit_id) {
  {
    std::lock_guard lock(mutex_);
    if (auto failure = Enter(Call::kListTree)) return *failure;
    if (FindRepo(type, repo) == nullptr) return RepoNotFound(repo);
  }
  std::vector<sync::RemoteEntry> entries;
  for (const auto& item : TreeJson(commit_id)) {
    auto entry = sync::ParseTreeEntry(item);
    if (!entry.ok()) return entry.status();
    entries.push_back(std::move(entry.value()));
  }
  return entries;
}

Status FakeHub::Download(RepoType type, const std::string& repo, const std::string& commit_id,
                         const std::string& path, uint64_t size, uint64_t offset,
                         const sync::ByteSink& sink, sync::DownloadInfo* info) {
  std::string bytes;
  {
    std::lock_guard lock(mutex_);
    if (auto failure = Enter(Call::kDownload)) return *failure;
    const Repo* found = FindRepo(type, repo);
    if (found == nullptr) return RepoNotFound(repo);
    auto commit = found->commits.find(commit_id);
    if (commit == found->commits.end()) return Status(StatusCode::kRevisionNotFound, commit_id);
    auto file = commit->second.files.find(path);
    if (file == commit->second.files.end()) return Status(StatusCode::kEntryNotFound, path);
    bytes = file->second.content;
    if (auto corrupt = corruptions_.find(path); corrupt != corruptions_.end() && corrupt->second) {
      --corrupt->second;
      if (!bytes.empty()) bytes[bytes.size() / 2] ^= 0x01;
    }
  }
  if (size != bytes.size() || offset > bytes.size()) {
    return InvalidArgument(path + ": asked for size " + std::to_string(size));
  }
  info->repo_commit = commit_id;
  return sink(bytes.data() + offset, bytes.size() - offset);
}

}  // namespace hubmirror::testing
