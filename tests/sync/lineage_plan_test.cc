#include <catch2/catch.hpp>

#include "sync/lineage_sync.h"
#include "sync/mirror_pass.h"
#include "tests/fakes/mirror_fixture.h"
#include "tests/fakes/recording_listener.h"

namespace hubmirror::sync {
namespace {

using testing::FakeHub;
using testing::RecordingListener;
using Call = FakeHub::Call;

nlohmann::json WithBase(const std::string& relation, const std::vector<std::string>& parents) {
  nlohmann::json models = nlohmann::json::array();
  for (const auto& parent : parents) models.push_back({{"_id", "x"}, {"id", parent}});
  return {{"baseModels", {{"relation", relation}, {"models", models}}}};
}

void PublishModel(FakeHub& hub, const std::string& repo,
                  nlohmann::json info = nlohmann::json::object()) {
  hub.Publish(RepoType::kModel, repo, "main", std::move(info),
              {{"config.json", {"{\"id\": \"" + repo + "\"}", false}}});
}

std::vector<std::string> JobRepos(const LineagePlan& plan) {
  std::vector<std::string> repos;
  for (const auto& job : plan.jobs) repos.push_back(job.repo);
  return repos;
}

MirrorSpec Rule(const std::string& repo) {
  MirrorSpec rule;
  rule.repo = repo;
  return rule;
}

TEST_CASE("Ancestors are planned to the roots and their repo info is reused", "[lineage]") {
  testing::MirrorFixture f;
  PublishModel(f.hub, "acme/root");
  PublishModel(f.hub, "acme/base", WithBase("finetune", {"acme/root"}));
  PublishModel(f.hub, "acme/quant", WithBase("quantized", {"acme/base"}));
  MirrorSpec rule = Rule("acme/quant");
  rule.lineage.ancestors = true;
  LineagePlan plan = PlanAlongLineage(f.hub, *f.registry, {rule});
  CHECK(plan.problems.empty());
  CHECK(JobRepos(plan) == std::vector<std::string>{"acme/quant", "acme/base", "acme/root"});
  for (const auto& job : plan.jobs) CHECK(job.resolved.has_value());
  CHECK(f.hub.Calls(Call::kGetRevision) == 3);

  // Mirroring the plan asks nobody again what the walk already learnt.
  f.hub.ResetCounts();
  RecordingListener listener;
  CHECK(RunMirrorPass(f.hub, f.store, *f.registry, {rule}, listener) == 0);
  CHECK(listener.mirrored.size() == 3);
  CHECK(f.hub.Calls(Call::kGetRevision) == 3);
}

TEST_CASE("Cycles and unknown base models end the walk", "[lineage]") {
  testing::MirrorFixture f;
  PublishModel(f.hub, "acme/a", WithBase("merge", {"acme/b", "acme/gone"}));
  PublishModel(f.hub, "acme/b", WithBase("finetune", {"ACME/A"}));
  MirrorSpec rule = Rule("acme/a");
  rule.lineage.ancestors = true;
  LineagePlan plan = PlanAlongLineage(f.hub, *f.registry, {rule});
  CHECK(plan.problems.empty());
  CHECK(JobRepos(plan) == std::vector<std::string>{"acme/a", "acme/b"});
}

TEST_CASE("Descendants are taken most downloaded first, within the limits", "[lineage]") {
  testing::MirrorFixture f;
  PublishModel(f.hub, "acme/base");
  for (const char* child : {"acme/popular", "acme/rare", "acme/middle"}) PublishModel(f.hub, child);
  f.hub.SetChildren("acme/base", "finetune",
                    {{{"id", "acme/rare"}, {"downloads", 1}},
                     {{"id", "acme/popular"}, {"downloads", 1000}},
                     {{"id", "acme/middle"}, {"downloads", 50}},
                     {{"id", "../evil"}, {"downloads", 99999}}});
  MirrorSpec rule = Rule("acme/base");
  rule.lineage.descendant_relations = {"finetune"};
  rule.lineage.min_downloads = 10;
  rule.lineage.max_count = 1;
  LineagePlan plan = PlanAlongLineage(f.hub, *f.registry, {rule});
  CHECK(plan.problems.empty());
  CHECK(JobRepos(plan) == std::vector<std::string>{"acme/base", "acme/popular"});
}

TEST_CASE("Metadata-only rules record relatives instead of mirroring them", "[lineage]") {
  testing::MirrorFixture f;
  PublishModel(f.hub, "acme/root");
  PublishModel(f.hub, "acme/child", WithBase("adapter", {"acme/root"}));
  MirrorSpec rule = Rule("acme/child");
  rule.lineage.ancestors = true;
  rule.lineage.metadata_only = true;
  RecordingListener listener;
  CHECK(RunMirrorPass(f.hub, f.store, *f.registry, {rule}, listener) == 0);
  CHECK(listener.mirrored == std::vector<std::string>{"acme/child"});
  CHECK(listener.recorded == 1);
  auto graph = f.registry->Lineage("acme/child", registry::LineageDirection::kUp, 0, "");
  REQUIRE(graph.ok());
  CHECK(graph->roots == std::vector<std::string>{"acme/root"});
}

TEST_CASE("A failed walk is a problem; the rule's own repo is still mirrored", "[lineage]") {
  testing::MirrorFixture f;
  PublishModel(f.hub, "acme/base");
  f.hub.FailNext(Call::kListChildren, IoError("listing unavailable"));
  MirrorSpec rule = Rule("acme/base");
  rule.lineage.descendant_relations = {"adapter"};
  RecordingListener listener;
  CHECK(RunMirrorPass(f.hub, f.store, *f.registry, {rule}, listener) == 1);
  REQUIRE(listener.problems.size() == 1);
  CHECK_THAT(listener.problems[0], Catch::Contains("listing unavailable"));
  CHECK(listener.mirrored == std::vector<std::string>{"acme/base"});
}

}  // namespace
}  // namespace hubmirror::sync
