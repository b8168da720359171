#include "sync/mirror_pass.h"

#include <fnmatch.h>

#include "sync/lineage_sync.h"

namespace hubmirror::sync {
namespace {

constexpr std::string_view kGlobCharacters = "*?[";

// The concrete repos of a rule: itself, or the upstream repos its pattern matches.
Result<std::vector<MirrorSpec>> Expand(UpstreamHub& upstream, const MirrorSpec& rule) {
  if (!IsRepoPattern(rule.repo)) return std::vector<MirrorSpec>{rule};
  auto ids = upstream.ListRepoIds(rule.type, rule.repo.substr(0, rule.repo.find('/')));
  if (!ids.ok()) return ids.status();
  std::vector<MirrorSpec> specs;
  for (const auto& id : *ids) {
    if (::fnmatch(rule.repo.c_str(), id.c_str(), FNM_PATHNAME) != 0) continue;
    MirrorSpec spec = rule;
    spec.repo = id;
    specs.push_back(std::move(spec));
  }
  return specs;
}

}  // namespace

bool IsRepoPattern(const std::string& repo) {
  return repo.find_first_of(kGlobCharacters) != std::string::npos;
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
  for (const auto& rule : rules) {
    auto expanded = Expand(upstream, rule);
    if (!expanded.ok()) {
      ++failures;
      listener.OnProblem(Status(expanded.status().code(), "cannot expand mirror rule " + rule.repo +
                                                              " against " + upstream.Name() + ": " +
                                                              expanded.status().message()));
      continue;
    }
    repos.insert(repos.end(), expanded->begin(), expanded->end());
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
