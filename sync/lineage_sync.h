#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "registry/registry.h"
#include "sync/mirror_job.h"
#include "sync/upstream_hub.h"

namespace hubmirror::sync {

// kInvalidArgument naming the problem when the rules ask for something impossible (an unknown
// relation, limits without a direction to apply them to).
Status ValidateLineageRules(const LineageRules& rules);

// The mirror jobs that a list of rules comes to once lineage is followed: each named repo, then
// the relatives its rules ask for (as jobs with files and without lineage rules of their own),
// every repo once.
struct LineagePlan {
  std::vector<MirrorSpec> jobs;
  // Lineage walks that failed; the repos they started from are still in `jobs`.
  std::vector<Status> problems;
  size_t relatives_recorded = 0;  // relatives recorded without files (metadata only)
};

// Follows each rule's lineage on the upstream: ancestors through the models' cards (each base
// model's own card in turn, to the roots; a base model the upstream does not have stays a node,
// known but not mirrored), descendants through the upstream's `base_model:RELATION:ID` listings,
// level by level, most downloaded first, at most `max_count` in all. Cycles, self-references and
// case variants end the walk where it has been; invalid ids in cards are logged and skipped.
// Relatives of a `metadata_only` rule are recorded in `registry` (edges and details) instead of
// becoming jobs. Not thread-safe (uses `registry`).
LineagePlan PlanAlongLineage(UpstreamHub& upstream, registry::Registry& registry,
                             const std::vector<MirrorSpec>& rules);

}  // namespace hubmirror::sync
