#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/names.h"
#include "common/status.h"
#include "registry/registry.h"
#include "storage/blob_store.h"
#include "sync/upstream_hub.h"

namespace hubmirror::sync {

// How far a mirror rule follows lineage from its repo (models only).
struct LineageRules {
  bool ancestors = false;  // the base models, to the roots
  // Children through these relations, and theirs, as the upstream's listings give them.
  std::vector<std::string> descendant_relations;
  int64_t min_downloads = 0;   // descendants with fewer downloads upstream are left out
  size_t max_count = 0;        // descendants taken at most, most downloaded first (0: no limit)
  bool metadata_only = false;  // record the relatives' lineage and details, not their files

  bool Any() const { return ancestors || !descendant_relations.empty(); }
};

struct MirrorSpec {
  RepoType type = RepoType::kModel;
  std::string repo;
  // A branch or tag name, a full ref name ("refs/pr/N", "refs/convert/NAME", "refs/heads/B",
  // "refs/tags/T"), each mirrored as the local ref of the same kind and name, or a 40-hex commit
  // id (stored and readable by id, no ref moved).
  std::string revision = "main";
  // The kind and name of the ref, when the caller knows them (from the upstream's refs listing).
  // Otherwise they follow from `revision`: a plain name is a tag when the mirror already has
  // that tag or, the first time, when the upstream's refs listing says so; else a branch.
  std::optional<RefName> ref;
  std::vector<std::string> include;  // globs on repo paths; empty means everything
  std::vector<std::string> exclude;
  size_t concurrency = 4;  // files downloaded at once
  LineageRules lineage;
  // When set and true, downloads stop and the job fails (partial files are kept for a resume).
  const std::atomic<bool>* cancel = nullptr;
  // The operator's access rule (a config rule's `access` and `grant`): settings that override the
  // upstream's gated and private flags (unset fields follow the upstream), and the users or
  // organizations (each member) given access, applied after every successful sync.
  registry::RepoAccessSettings access;
  std::vector<std::string> grants;
  // A rule's `writable`: whether clients may add branches and tags of their own to the repo and
  // commit to them (Registry::SetLocalWrites), applied after every successful sync. Unset (a sync
  // no rule asked for): left as it is.
  std::optional<bool> writable;
  // The storage budget ([storage] max_bytes): a sync whose downloads would take the content the
  // budget can never evict (see Registry::KeptBytes) over it is refused before downloading
  // (kFailedPrecondition, recorded in the sync state). Unset: no budget.
  std::optional<uint64_t> max_store_bytes;
  // Retention: after a successful sync, the revisions it does not keep are released
  // (Registry::ReleaseRevisions). Nothing set: the repo's own setting, if any.
  registry::Retention retention;
  // Pull-through: record the revision from its metadata alone, each file's content absent until
  // a client asks for it (registry::BlobState::kAbsent), and mark the sync state as kept current
  // by requests. The job then costs the upstream calls of a sync and no download.
  bool content_on_demand = false;
  // Refuse (kFailedPrecondition) a repo that the upstream gates, before recording anything.
  bool refuse_gated = false;
  // What the upstream said of `revision` moments ago, when planning this job already asked it
  // (lineage planning reads each relative's repo info): the job does not ask again.
  std::optional<RemoteRevision> resolved;
};

struct MirrorReport {
  std::string commit_id;
  bool up_to_date = false;  // the local ref already pointed at the upstream commit
  size_t files = 0;         // files in the mirrored revision (after include/exclude)
  size_t downloaded_files = 0;
  uint64_t downloaded_bytes = 0;
};

// Watches a mirror job's progress (for progress bars and logs). Methods are called from the
// download threads at once: implementations must be thread-safe.
class MirrorObserver {
 public:
  virtual ~MirrorObserver() = default;
  // What has to be downloaded, once the job knows (after comparing with the store).
  virtual void OnPlanned(size_t files, uint64_t bytes) = 0;
  // `bytes` more of `path` (of `file_size` in all) have arrived.
  virtual void OnBytes(const std::string& path, uint64_t file_size, uint64_t bytes) = 0;
  // `path` is in the store; `fetched` is false when its content was already there.
  virtual void OnFileStored(const std::string& path, uint64_t size, bool fetched) = 0;
};

// Mirrors one revision of one repo: resolves it upstream, lists its tree, downloads each file the
// store lacks (content already stored for any repo is reused), verifying size and SHA-256 (LFS)
// or git blob SHA-1 (other files) before it enters the store, then publishes the revision, the
// model's details, the repo's flags (gated, private, ...) and the sync state in one registry
// transaction. Nothing is published unless every file is stored. An unchanged revision costs
// one upstream request (none when `spec.resolved` is set) and one registry transaction, and
// still refreshes the repo's flags and details. A ref the upstream no longer has
// (kRevisionNotFound) is deleted here too; its commits stay readable by id. The spec's access
// rule is applied next: kNotFound when a grant names neither a user nor an organization here
// (the revision is published all the same); then retention. The job holds a
// WriteLease from before its first blob until its revision is published, and touches stored
// content it reuses, so that garbage collection can run meanwhile. Interrupted downloads
// (even by a killed process) leave partial files that the next run resumes from. Errors name the
// repo, the file, and the expected and actual digests; a failure is recorded in the sync state too.
Result<MirrorReport> MirrorRepo(UpstreamHub& upstream, storage::BlobStore& store,
                                registry::Registry& registry, const MirrorSpec& spec,
                                MirrorObserver* observer = nullptr);

}  // namespace hubmirror::sync
