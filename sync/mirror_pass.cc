#include "sync/mirror_pass.h"

#include <fnmatch.h>

#include <algorithm>
#include <set>

#include "common/digest.h"
#include "sync/lineage_sync.h"

namespace hubmirror::sync {
namespace {

constexpr std::string_view kGlobCharacters = "*?[";

// The concrete repos of a rule: itself, or the upstream repos its pattern matches.
Result<std::vector<MirrorSpec>> ExpandRepos(UpstreamHub& upstream, const MirrorSpec& rule) {
  if (!IsRepoPattern(rule.repo)) return std::vector<MirrorSpec>{rule};
  auto ids = upstream.ListRepoIds(rule.type, rule.repo.substr(0, rule.repo.find('/')));
  if (!ids.ok()) return ids.status();
  std::vector<MirrorSpec> specs;
  for (const auto& id : *ids) {
    if (!RuleCovers(rule, rule.type, id)) continue;
    MirrorSpec spec = rule;
    spec.repo = id;
    specs.push_back(std::move(spec));
  }
  return specs;
}

// The concrete refs of a repo's rule: itself, or the upstream refs its revision pattern matches.
// Local refs that match the pattern, that the mirror synced and that the upstream no longer lists
// go to `stale`; refs made here (a writable rule's) are not the mirror's to delete.
Result<std::vector<MirrorSpec>> ExpandRevisions(UpstreamHub& upstream, registry::Registry& registry,
                                                const MirrorSpec& rule,
                                                std::vector<RefName>* stale) {
  if (!IsRevisionPattern(rule.revision)) return std::vector<MirrorSpec>{rule};
  auto listed = upstream.ListRefs(rule.type, rule.repo);
  if (!listed.ok()) return listed.status();
  std::vector<MirrorSpec> specs;
  std::set<RefName> upstream_refs;
  for (const auto& remote : *listed) {
    upstream_refs.insert(remote.ref);
    if (!MatchesRevisionPattern(rule.revision, remote.ref)) continue;
    MirrorSpec spec = rule;
    spec.revision = RefRevision(remote.ref);
    spec.ref = remote.ref;
    specs.push_back(std::move(spec));
  }
  auto local = registry.FindRepo(rule.type, rule.repo);
  if (!local.ok()) {
    if (local.status().code() == StatusCode::kRepoNotFound) return specs;
    return local.status();
  }
  auto refs = registry.ListRefs(*local);
  if (!refs.ok()) return refs.status();
  for (const auto& ref : *refs) {
    RefName name = ref.ref_name();
    if (!MatchesRevisionPattern(rule.revision, name) || upstream_refs.contains(name)) continue;
    auto synced = registry.FindSyncState(rule.type, local->name, RefRevision(name));
    if (!synced.ok()) return synced.status();
    if (*synced) stale->push_back(std::move(name));
  }
  return specs;
}

}  // namespace

bool IsRevisionPattern(const std::string& revision) {
  return revision.find_first_of(kGlobCharacters) != std::string::npos;
}

bool MatchesRevisionPattern(const std::string& pattern, const RefName& ref) {
  std::string full = FullRefName(ref);
  for (const std::string& candidate : {pattern, "refs/" + pattern, "refs/heads/" + pattern}) {
    if (::fnmatch(candidate.c_str(), full.c_str(), 0) == 0) return true;
  }
  return false;
}

Status ValidateRevisionRule(const std::string& revision) {
  if (IsSha1Hex(revision)) return Status::Ok();
  if (IsRevisionPattern(revision)) {
    bool printable =
        std::all_of(revision.begin(), revision.end(), [](char c) { return c > 0x20 && c < 0x7f; });
    if (revision.size() > kMaxRevisionBytes || !printable) {
      return InvalidArgument("invalid revision pattern '" + revision.substr(0, 200) + "'");
    }
    return Status::Ok();
  }
  if (auto full = ParseFullRefName(revision)) return ValidateRefName(*full);
  return ValidateRefName({RefKind::kBranch, revision});
}

std::string DeletedRefsMessage(const MirrorSpec& rule, const std::vector<RefName>& refs) {
  std::string names;
  for (const auto& ref : refs) names += (names.empty() ? "" : ", ") + FullRefName(ref);
  return std::string(RepoTypeName(rule.type)) + " " + rule.repo + ": deleted " + names +
         ", which the upstream no longer has (their commits stay readable by id)";
}

bool IsRepoPattern(const std::string& repo) {
  return repo.find_first_of(kGlobCharacters) != std::string::npos;
}

bool RuleCovers(const MirrorSpec& rule, RepoType type, const std::string& repo) {
  if (rule.type != type) return false;
  if (!IsRepoPattern(rule.repo)) return AsciiLower(rule.repo) == AsciiLower(repo);
  return ::fnmatch(rule.repo.c_str(), repo.c_str(), FNM_PATHNAME) == 0;
}

Status ValidateRepoRule(const std::string& repo) {
  if (!IsRepoPattern(repo)) return ValidateRepoId(repo);
  size_t slash = repo.find('/');
  if (slash == std::string::npos || repo.find('/', slash + 1) != std::string::npos ||
      slash + 1 == repo.size()) {
    return InvalidArgument("repo pattern '" + repo + "' must be ORG/GLOB");
  }
  std::string author = repo.substr(0, slash);
  if (IsRepoPattern(author)) {
    return InvalidArgument("repo pattern '" + repo + "': the namespace must be literal");
  }
  return ValidateRepoId(author);
}

size_t RunMirrorPass(UpstreamHub& upstream, storage::BlobStore& store, registry::Registry& registry,
                     const std::vector<MirrorSpec>& rules, MirrorPassListener& listener,
                     const std::atomic<bool>* cancel) {
  size_t failures = 0;
  std::vector<MirrorSpec> repos;
  auto problem = [&](const std::string& what, const Status& status) {
    ++failures;
    listener.OnProblem(Status(status.code(), "cannot expand mirror rule " + what + " against " +
                                                 upstream.Name() + ": " + status.message()));
  };
  for (const auto& rule : rules) {
    auto expanded = ExpandRepos(upstream, rule);
    if (!expanded.ok()) {
      problem(rule.repo, expanded.status());
      continue;
    }
    for (const auto& repo_rule : *expanded) {
      std::vector<RefName> stale;
      auto refs = ExpandRevisions(upstream, registry, repo_rule, &stale);
      if (!refs.ok()) {
        problem(repo_rule.repo + "@" + repo_rule.revision, refs.status());
        continue;
      }
      repos.insert(repos.end(), refs->begin(), refs->end());
      if (stale.empty()) continue;
      auto deleted = registry.DeleteRefs(repo_rule.type, repo_rule.repo, stale);
      if (!deleted.ok()) {
        ++failures;
        listener.OnProblem(
            Status(deleted.status().code(),
                   "cannot delete the refs of " + repo_rule.repo +
                       " that the upstream no longer has: " + deleted.status().message()));
      } else {
        listener.OnRefsDeleted(repo_rule, stale);
      }
    }
  }
  LineagePlan plan;
  // Upstream data is untrusted: nothing it holds may end the pass (nor the daemon's thread).
  try {
    plan = PlanAlongLineage(upstream, registry, repos);
  } catch (const std::exception& e) {
    plan = LineagePlan{};
    plan.jobs = repos;
    plan.problems.push_back(Internal(std::string("lineage not followed: ") + e.what()));
  }
  for (const auto& problem : plan.problems) {
    ++failures;
    listener.OnProblem(problem);
  }
  if (plan.relatives_recorded > 0) listener.OnRelativesRecorded(plan.relatives_recorded);
  for (auto& job : plan.jobs) {
    if (cancel != nullptr && cancel->load()) break;
    if (cancel != nullptr) job.cancel = cancel;
    Result<MirrorReport> report = [&] {
      std::unique_ptr<MirrorObserver> observer = listener.ObserveJob(job);
      return MirrorRepo(upstream, store, registry, job, observer.get());
    }();
    if (!report.ok()) ++failures;
    listener.OnJobDone(job, report);
  }
  return failures;
}

}  // namespace hubmirror::sync
