#pragma once

#include <string>
#include <vector>

#include "sync/mirror_pass.h"

namespace hubmirror::testing {

// A MirrorPassListener that collects what a pass reports, for tests. Not thread-safe (a pass
// calls it on its own thread).
struct RecordingListener : sync::MirrorPassListener {
  void OnProblem(const Status& problem) override { problems.push_back(problem.message()); }
  void OnRelativesRecorded(size_t count) override { recorded += count; }
  void OnRefsDeleted(const sync::MirrorSpec& rule, const std::vector<RefName>& refs) override {
    for (const auto& ref : refs) deleted.push_back(rule.repo + "@" + FullRefName(ref));
  }
  std::unique_ptr<sync::MirrorObserver> ObserveJob(const sync::MirrorSpec&) override {
    return nullptr;
  }
  void OnJobDone(const sync::MirrorSpec& job, const Result<sync::MirrorReport>& report) override {
    (report.ok() ? mirrored : failed).push_back(job.repo);
    (report.ok() ? mirrored_revisions : failed_revisions).push_back(job.repo + "@" + job.revision);
  }
  std::vector<std::string> problems, mirrored, failed;
  std::vector<std::string> mirrored_revisions, failed_revisions;  // "repo@revision"
  std::vector<std::string> deleted;                               // "repo@full ref name"
  size_t recorded = 0;
};

}  // namespace hubmirror::testing
