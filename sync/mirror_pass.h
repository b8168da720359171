#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "registry/registry.h"
#include "storage/blob_store.h"
#include "sync/mirror_job.h"
#include "sync/upstream_hub.h"

namespace hubmirror::sync {

// A mirror rule's repo may be a pattern, "ORG/GLOB" (e.g. "HuggingFaceTB/SmolLM2-*"): the
// namespace is literal, so the upstream's listing of that author bounds the search.
bool IsRepoPattern(const std::string& repo);
// Whether a rule names the repo `type` `repo`: the same id (case-insensitive) or one its pattern
// matches.
bool RuleCovers(const MirrorSpec& rule, RepoType type, const std::string& repo);
// kInvalidArgument unless `repo` is a valid repo id or a valid pattern.
Status ValidateRepoRule(const std::string& repo);

// A mirror rule's revision may be a pattern over the upstream's refs: "*" is every ref (branches,
// tags, pull requests, conversions); otherwise a glob on full ref names, where "refs/" may be left
// out and a glob without it names branches: "release-*" (branches), "tags/*" (tags),
// "refs/pr/*" (pull requests), "refs/convert/*" (conversions).
bool IsRevisionPattern(const std::string& revision);
bool MatchesRevisionPattern(const std::string& pattern, const RefName& ref);
// kInvalidArgument unless `revision` is a commit id, a valid ref name or a valid pattern.
Status ValidateRevisionRule(const std::string& revision);
// The line that says which refs of a rule's repo were deleted, for logs and the CLI.
std::string DeletedRefsMessage(const MirrorSpec& rule, const std::vector<RefName>& refs);

// Hears what a mirror pass does, as it does it: `hubmirror sync` prints it, the daemon logs it.
// Called on the pass's thread only.
class MirrorPassListener {
 public:
  virtual ~MirrorPassListener() = default;
  // Something that kept part of the pass from being done (a pattern that could not be expanded,
  // a lineage walk that failed); the rest of the pass goes on.
  virtual void OnProblem(const Status& problem) = 0;
  // Relatives of metadata-only lineage rules recorded without their files.
  virtual void OnRelativesRecorded(size_t count) = 0;
  // Local refs deleted because the upstream no longer has them.
  virtual void OnRefsDeleted(const MirrorSpec& rule, const std::vector<RefName>& refs) = 0;
  // An observer of the job's progress, or nullptr; it is destroyed before OnJobDone is called.
  virtual std::unique_ptr<MirrorObserver> ObserveJob(const MirrorSpec& job) = 0;
  virtual void OnJobDone(const MirrorSpec& job, const Result<MirrorReport>& report) = 0;
};

// One pass over mirror rules, the same for `hubmirror sync` and the daemon: repo patterns
// expanded against the upstream's listing and revision patterns against each repo's refs (local
// refs that match a pattern but that the upstream no longer has are deleted; their commits stay
// readable by id), lineage followed (PlanAlongLineage), then each job mirrored in turn
// (MirrorRepo). Stops before the next job once `cancel` (optional) is set. Returns how many
// problems and failed jobs there were (0: everything mirrored). Not thread-safe (uses
// `registry`); upstream data, however hostile, cannot make it throw.
size_t RunMirrorPass(UpstreamHub& upstream, storage::BlobStore& store, registry::Registry& registry,
                     const std::vector<MirrorSpec>& rules, MirrorPassListener& listener,
                     const std::atomic<bool>* cancel = nullptr);

}  // namespace hubmirror::sync
