#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/git_refs.h"
#include "common/names.h"
#include "common/status.h"

namespace hubmirror::sync {

// One file or directory of an upstream tree, as the Hub's tree endpoint lists it, validated:
// the path is a safe repo path, the oid 40 hex, the LFS oid 64 hex.
struct RemoteEntry {
  std::string path;
  bool is_directory = false;
  uint64_t size = 0;
  std::string git_oid;
  bool lfs = false;
  std::string sha256;  // LFS files only: the content digest (lfs.oid)
  uint64_t pointer_size = 0;
};

// A model's base models as the upstream states them (`expand[]=baseModels`): one relation for
// all of them.
struct BaseModels {
  std::string relation;
  std::vector<std::string> ids;
};

// What the upstream says about a revision in its repo info: the commit it resolves to, the
// model card, the model's base models, and the repo's flags and details.
struct RemoteRevision {
  std::string id;  // the repo id as the upstream publishes it (any case may be asked for)
  std::string commit_id;
  nlohmann::json card_data;  // null when none
  std::vector<std::string> tags;
  std::string pipeline_tag;
  std::string library_name;
  int64_t downloads = 0;
  std::optional<BaseModels> base_models;  // models only; nullopt when the upstream states none
  // The repo's flags and details (hub-protocol.md §3.1); empty or 0 where the upstream is silent.
  std::string object_id;  // `_id`, 24 hex digits
  std::string author;
  std::string gated = "false";  // "false", "auto" or "manual"
  bool is_private = false;
  bool disabled = false;
  int64_t created_at_ms = 0;
  int64_t last_modified_ms = 0;
  int64_t likes = 0;
  nlohmann::json config;       // models: the trimmed config.json; null when none
  nlohmann::json safetensors;  // models: parameter counts; null when none
};

// A ref as the upstream's refs listing gives it.
struct RemoteRef {
  RefName ref;
  std::string commit_id;
};

// A commit's description, as the upstream's commit listing gives it.
struct RemoteCommit {
  std::string title = "Mirrored from upstream";
  std::string message = "Mirrored from upstream\n";
  std::string author = "upstream";
  int64_t date_ms = 0;  // 0: unknown (the mirror uses the time it recorded the commit)
};

// A model as the upstream's listing shows it.
struct RemoteModel {
  std::string id;
  int64_t downloads = 0;
  std::string pipeline_tag;
  std::string library_name;
};

// Headers of a file download that the Hub puts on the /resolve response (or on its redirect).
struct DownloadInfo {
  std::string repo_commit;  // X-Repo-Commit
  std::string linked_etag;  // X-Linked-Etag, unquoted (the SHA-256 for LFS files)
  std::optional<uint64_t> linked_size;
};

// Receives downloaded bytes in order; a non-ok Status aborts the transfer.
using ByteSink = std::function<Status(const char* data, size_t size)>;

// A Hub-compatible server to mirror from (huggingface.co, or another hubmirror). Methods return
// kRepoNotFound / kRevisionNotFound / kEntryNotFound for the Hub's 404 codes, kFailedPrecondition
// for gated or forbidden repos (the message says what the operator must do), kCorrupt for
// responses that break the protocol, and kIoError for transport failures that outlived retries.
// Implementations are safe to call from several threads at once.
class UpstreamHub {
 public:
  virtual ~UpstreamHub() = default;
  // Where this upstream is, for status and logs (never with credentials).
  virtual std::string Name() const = 0;
  // Resolves a revision (branch, tag or commit id) with what the repo info says of it, base
  // models included: one request on upstreams that accept the Hub's `expand` (two on others).
  virtual Result<RemoteRevision> GetRevision(RepoType type, const std::string& repo,
                                             const std::string& revision) = 0;
  // The title, message, author and date of a commit. They are descriptive: an upstream without
  // the commits endpoint gives the defaults of RemoteCommit, not an error; kFailedPrecondition
  // when access is refused.
  virtual Result<RemoteCommit> GetCommit(RepoType type, const std::string& repo,
                                         const std::string& commit_id) = 0;
  // Every ref of the repo: branches, tags, pull requests and conversions (the Hub's
  // `/refs?include_prs=1`). Refs with an invalid name or commit id are left out.
  virtual Result<std::vector<RemoteRef>> ListRefs(RepoType type, const std::string& repo) = 0;
  // Ids of the upstream's repos of one author, following pagination (the Hub's listing).
  virtual Result<std::vector<std::string>> ListRepoIds(RepoType type,
                                                       const std::string& author) = 0;
  // Models whose cards name `parent` as their base through `relation` (through any relation when
  // empty), as the upstream's `filter=base_model:...` listing gives them, following pagination.
  // Invalid ids in the listing are skipped.
  virtual Result<std::vector<RemoteModel>> ListChildren(const std::string& parent,
                                                        const std::string& relation) = 0;
  // Every entry of the commit's tree (recursive), following pagination.
  virtual Result<std::vector<RemoteEntry>> ListTree(RepoType type, const std::string& repo,
                                                    const std::string& commit_id) = 0;
  // Streams a file's bytes from `offset` into `sink`, in order. `size` is the file's size as
  // the tree lists it (large files may be fetched as parallel ranges). Transient failures are
  // retried, resuming from the bytes already delivered, so the sink sees every byte exactly once.
  virtual Status Download(RepoType type, const std::string& repo, const std::string& commit_id,
                          const std::string& path, uint64_t size, uint64_t offset,
                          const ByteSink& sink, DownloadInfo* info) = 0;
};

}  // namespace hubmirror::sync
