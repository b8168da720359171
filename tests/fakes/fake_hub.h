#pragma once

#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/git_refs.h"
#include "sync/upstream_hub.h"

namespace hubmirror::testing {

// An UpstreamHub held in memory, for unit tests of the jobs that use one. Repos are described by
// the JSON the Hub would send (recorded answers, or answers built by the helpers below), and
// every answer goes through the same parsers as CurlUpstreamHub's (sync/hub_json.h), so a
// recorded answer that the real client would refuse is refused here too. Counts every call, and
// injects failures and corrupted bytes on request. Thread-safe (Download runs on many threads).
class FakeHub : public sync::UpstreamHub {
 public:
  enum class Call {
    kGetRevision,
    kGetCommit,
    kListRefs,
    kListRepoIds,
    kListChildren,
    kListTree,
    kDownload
  };

  // One file of a commit: its bytes, stored as LFS (tree entry with `lfs`) or as a git file.
  struct File {
    std::string content;
    bool lfs = false;
  };

  // Adds (or replaces) a commit of a repo and points `ref` at it: a branch name, or a full ref
  // name ("refs/tags/v1", "refs/pr/3", "refs/convert/parquet"). `info` is the repo info the Hub
  // would send for the revision (its `sha` is overwritten with the commit id); `children` are
  // listed for `filter=base_model:...` queries of this repo. Returns the commit id, derived from
  // the content so that a changed tree gets a new one.
  std::string Publish(RepoType type, const std::string& repo, const std::string& ref,
                      nlohmann::json info, const std::map<std::string, File>& files);
  // Forgets a repo (the next calls answer kRepoNotFound).
  void Delete(RepoType type, const std::string& repo);
  // Sets fields of the repo info of every commit of a repo, as a change of the repo's flags
  // upstream (gated, likes, ...) does: commits keep their ids.
  void UpdateInfo(RepoType type, const std::string& repo, const nlohmann::json& fields);
  // Forgets one ref of a repo (named as Publish names it); its commit stays readable by id.
  void DeleteRef(RepoType type, const std::string& repo, const std::string& ref);
  // Models the listing of `parent`'s children through `relation` returns.
  void SetChildren(const std::string& parent, const std::string& relation,
                   std::vector<nlohmann::json> listed_models);

  // The next `count` calls of `call` fail with `status` (after being counted).
  void FailNext(Call call, Status status, int count = 1);
  // The next `count` downloads of `path` deliver its bytes with one byte flipped.
  void CorruptNextDownloads(const std::string& path, int count = 1);

  size_t Calls(Call call) const;
  size_t TotalCalls() const;
  void ResetCounts();
  // The Hub-shaped tree JSON of a commit (what ListTree parses), for tests that edit it.
  nlohmann::json TreeJson(const std::string& commit_id) const;

  std::string Name() const override { return "fake-hub"; }
  Result<sync::RemoteRevision> GetRevision(RepoType type, const std::string& repo,
                                           const std::string& revision) override;
  Result<sync::RemoteCommit> GetCommit(RepoType type, const std::string& repo,
                                       const std::string& commit_id) override;
  Result<std::vector<sync::RemoteRef>> ListRefs(RepoType type, const std::string& repo) override;
  Result<std::vector<std::string>> ListRepoIds(RepoType type, const std::string& author) override;
  Result<std::vector<sync::RemoteModel>> ListChildren(const std::string& parent,
                                                      const std::string& relation) override;
  Result<std::vector<sync::RemoteEntry>> ListTree(RepoType type, const std::string& repo,
                                                  const std::string& commit_id) override;
  Status Download(RepoType type, const std::string& repo, const std::string& commit_id,
                  const std::string& path, uint64_t size, uint64_t offset,
                  const sync::ByteSink& sink, sync::DownloadInfo* info) override;

 private:
  struct Commit {
    nlohmann::json info;
    std::map<std::string, File> files;
  };
  struct Repo {
    std::map<RefName, std::string> refs;  // -> commit id
    std::map<std::string, Commit> commits;
  };
  // Counts the call and returns the failure queued for it, if any. Holds mutex_.
  std::optional<Status> Enter(Call call);
  const Repo* FindRepo(RepoType type, const std::string& repo) const;

  mutable std::mutex mutex_;
  std::map<std::string, Repo> repos_;                            // "type lower-cased id"
  std::map<std::string, std::vector<nlohmann::json>> children_;  // "relation:parent"
  std::map<Call, size_t> calls_;
  std::map<Call, std::vector<Status>> failures_;
  std::map<std::string, int> corruptions_;
};

}  // namespace hubmirror::testing
