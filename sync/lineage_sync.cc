#include "sync/lineage_sync.h"

#include <algorithm>
#include <deque>
#include <map>
#include <optional>
#include <set>

#include "common/log.h"
#include "common/names.h"
#include "sync/model_card.h"

namespace hubmirror::sync {
namespace {

constexpr const char* kListingSource = "listing";

// A model found along lineage, with what the walk learnt of it.
struct Relative {
  std::string id;
  std::vector<registry::LineageEdge> edges;       // to its own parents, as far as the walk saw
  std::optional<registry::ModelDetails> details;  // set once the upstream described it
  // Its main branch as the upstream's repo info gave it, when the walk asked (ancestors): the
  // job that mirrors it reuses the answer.
  std::optional<RemoteRevision> resolved;
};

// The relatives found from one rule, each once, in the order found. Not thread-safe.
class RelativeSet {
 public:
  explicit RelativeSet(const std::string& start) { index_[AsciiLower(start)] = SIZE_MAX; }

  // The relative for `id`, added when new; nullptr for the starting model.
  Relative* Find(const std::string& id, bool* added) {
    auto [it, inserted] = index_.emplace(AsciiLower(id), relatives_.size());
    *added = inserted;
    if (inserted) relatives_.push_back(Relative{id, {}, std::nullopt, std::nullopt});
    return it->second == SIZE_MAX ? nullptr : &relatives_[it->second];
  }
  size_t size() const { return relatives_.size(); }
  std::vector<Relative>& all() { return relatives_; }

 private:
  std::map<std::string, size_t> index_;  // lower-cased id -> position (SIZE_MAX: the start)
  std::vector<Relative> relatives_;
};

// Base models up to the roots, breadth first, each model's card read once. The start's own repo
// info goes to `start_revision`.
Status FindAncestors(UpstreamHub& upstream, const MirrorSpec& rule, RelativeSet& found,
                     std::optional<RemoteRevision>* start_revision) {
  std::deque<std::pair<std::string, std::string>> queue = {{rule.repo, rule.revision}};
  for (bool start = true; !queue.empty(); start = false) {
    auto [id, revision] = queue.front();
    queue.pop_front();
    auto remote = upstream.GetRevision(RepoType::kModel, id, revision);
    if (!remote.ok()) {
      if (start || remote.status().code() != StatusCode::kRepoNotFound) return remote.status();
      Log(LogLevel::kWarning, "base model " + id + " of " + rule.repo +
                                  " is not on the upstream: it stays a node, not mirrored");
      continue;
    }
    // Cards spell ids in any case; the upstream's answer has the id as published.
    std::string canonical = AsciiLower(remote->id) == AsciiLower(id) ? remote->id : id;
    auto edges =
        UpstreamLineage(canonical, remote->card_data, remote->tags, remote->base_models, {});
    bool added = false;
    if (Relative* self = found.Find(id, &added)) {
      self->id = canonical;
      self->edges = edges;
      self->details = registry::ModelDetails{canonical, remote->pipeline_tag, remote->library_name,
                                             remote->downloads};
      self->resolved = std::move(remote.value());
    } else {
      *start_revision = std::move(remote.value());
    }
    for (const auto& edge : edges) {
      found.Find(edge.parent, &added);
      if (added) queue.emplace_back(edge.parent, "main");
    }
  }
  return Status::Ok();
}

// Children through the rule's relations, level by level, most downloaded first.
Status FindDescendants(UpstreamHub& upstream, const MirrorSpec& rule, RelativeSet& found) {
  const LineageRules& rules = rule.lineage;
  size_t taken = 0;
  std::vector<std::string> level = {rule.repo};
  while (!level.empty() && (rules.max_count == 0 || taken < rules.max_count)) {
    struct Candidate {
      RemoteModel model;
      registry::LineageEdge edge;
    };
    std::vector<Candidate> candidates;
    for (const auto& parent : level) {
      for (const auto& relation : rules.descendant_relations) {
        auto children = upstream.ListChildren(parent, relation);
        if (!children.ok()) return children.status();
        for (auto& child : *children) {
          // A card naming its own model lists it among its children: not an edge.
          if (child.downloads < rules.min_downloads || AsciiLower(child.id) == AsciiLower(parent)) {
            continue;
          }
          registry::LineageEdge edge{child.id, parent, relation, kListingSource, false};
          candidates.push_back({std::move(child), std::move(edge)});
        }
      }
    }
    std::stable_sort(candidates.begin(), candidates.end(),
                     [](const Candidate& a, const Candidate& b) {
                       return a.model.downloads > b.model.downloads;
                     });
    std::vector<std::string> next;
    for (auto& candidate : candidates) {
      if (rules.max_count != 0 && taken >= rules.max_count) break;
      bool added = false;
      Relative* relative = found.Find(candidate.model.id, &added);
      if (relative == nullptr) continue;  // the rule's own model: a cycle
      if (added) {
        relative->details =
            registry::ModelDetails{candidate.model.id, candidate.model.pipeline_tag,
                                   candidate.model.library_name, candidate.model.downloads};
        next.push_back(candidate.model.id);
        ++taken;
      }
      relative->edges.push_back(std::move(candidate.edge));
    }
    level = std::move(next);
  }
  return Status::Ok();
}

// Records relatives without their files: their edges and what the upstream said of them.
Status RecordRelatives(registry::Registry& registry, const std::vector<Relative>& relatives) {
  std::vector<registry::LineageEdge> edges;
  std::vector<registry::ModelDetails> details;
  for (const auto& relative : relatives) {
    edges.insert(edges.end(), relative.edges.begin(), relative.edges.end());
    if (relative.details) details.push_back(*relative.details);
  }
  HM_RETURN_IF_ERROR(registry.AddLineageEdges(edges));
  return registry.RecordModelDetails(details);
}

}  // namespace

Status ValidateLineageRules(const LineageRules& rules) {
  for (const auto& relation : rules.descendant_relations) {
    if (relation != "finetune" && relation != "adapter" && relation != "quantized" &&
        relation != "merge") {
      return InvalidArgument(
          "descendant relation must be finetune, adapter, quantized or merge, got '" + relation +
          "'");
    }
  }
  if (rules.descendant_relations.empty() && (rules.min_downloads != 0 || rules.max_count != 0)) {
    return InvalidArgument(
        "a minimum of downloads or a maximum count needs descendants to apply to");
  }
  if (!rules.Any() && rules.metadata_only) {
    return InvalidArgument("lineage metadata only needs ancestors or descendants to record");
  }
  return Status::Ok();
}

LineagePlan PlanAlongLineage(UpstreamHub& upstream, registry::Registry& registry,
                             const std::vector<MirrorSpec>& rules) {
  LineagePlan plan;
  std::map<std::string, size_t> planned;  // "type id@revision", lower-cased -> index in jobs
  auto add_job = [&](MirrorSpec job) -> MirrorSpec& {
    std::string key =
        std::string(RepoTypeName(job.type)) + " " + AsciiLower(job.repo) + "@" + job.revision;
    job.lineage = LineageRules{};
    auto [it, inserted] = planned.emplace(key, plan.jobs.size());
    if (inserted) plan.jobs.push_back(std::move(job));
    return plan.jobs[it->second];
  };
  for (const auto& rule : rules) add_job(rule);
  for (const auto& rule : rules) {
    if (!rule.lineage.Any()) continue;
    std::string what = "lineage of " + rule.repo;
    if (rule.type != RepoType::kModel) {
      plan.problems.push_back(InvalidArgument(what + ": lineage is followed for models only"));
      continue;
    }
    RelativeSet found(rule.repo);
    std::optional<RemoteRevision> start_revision;
    Status walked = rule.lineage.ancestors ? FindAncestors(upstream, rule, found, &start_revision)
                                           : Status::Ok();
    if (start_revision) {
      MirrorSpec& own_job = add_job(rule);
      if (!own_job.resolved) own_job.resolved = std::move(start_revision);
    }
    if (walked.ok() && !rule.lineage.descendant_relations.empty()) {
      walked = FindDescendants(upstream, rule, found);
    }
    if (!walked.ok()) {
      plan.problems.push_back(Status(walked.code(), what + ": " + walked.message()));
      continue;
    }
    if (rule.lineage.metadata_only) {
      Status recorded = RecordRelatives(registry, found.all());
      if (!recorded.ok()) {
        plan.problems.push_back(Status(recorded.code(), what + ": " + recorded.message()));
      } else {
        plan.relatives_recorded += found.size();
      }
      continue;
    }
    for (const auto& relative : found.all()) {
      if (!relative.details) continue;  // named by a card, but not on the upstream
      MirrorSpec job = rule;
      job.repo = relative.id;
      job.revision = "main";
      job.resolved = relative.resolved;
      job.writable.reset();  // a rule opens its own repo to local writes, not its relatives
      MirrorSpec& added = add_job(std::move(job));
      if (!added.resolved) added.resolved = relative.resolved;
    }
  }
  return plan;
}

}  // namespace hubmirror::sync
