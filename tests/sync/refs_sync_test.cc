// Mirroring refs of every kind and the upstream's repo flags (MirrorRepo, RunMirrorPass).
#include <catch2/catch.hpp>

#include "common/clock.h"
#include "sync/mirror_job.h"
#include "sync/mirror_pass.h"
#include "tests/fakes/mirror_fixture.h"
#include "tests/fakes/recording_listener.h"

namespace hubmirror::sync {
namespace {

using testing::FakeHub;
using testing::MirrorFixture;
using testing::RecordingListener;
using Call = FakeHub::Call;

const std::string kRepo = "acme/model";

std::map<std::string, FakeHub::File> Files(const std::string& weights) {
  return {{"config.json", {"{}", false}}, {"model.safetensors", {weights, true}}};
}

nlohmann::json Flags() {
  return {{"_id", "66a0b2c3d4e5f60718293a4b"},
          {"author", "acme"},
          {"gated", "manual"},
          {"private", false},
          {"disabled", false},
          {"createdAt", "2024-07-18T08:56:00.000Z"},
          {"lastModified", "2024-09-25T14:00:00.000Z"},
          {"likes", 4096},
          {"downloads", 5000000},
          {"config", {{"model_type", "llama"}}},
          {"safetensors", {{"parameters", {{"BF16", 8030261248}}}, {"total", 8030261248}}}};
}

// The main branch, a tag, pull request 16 and the parquet conversion, each its own commit.
struct EveryRef {
  std::string main, tag, pull, convert;
};

EveryRef PublishEveryRef(FakeHub& hub) {
  EveryRef commits;
  commits.main = hub.Publish(RepoType::kModel, kRepo, "main", Flags(), Files("main"));
  commits.tag = hub.Publish(RepoType::kModel, kRepo, "refs/tags/v1.0", Flags(), Files("v1"));
  commits.pull = hub.Publish(RepoType::kModel, kRepo, "refs/pr/16", Flags(), Files("pr"));
  commits.convert =
      hub.Publish(RepoType::kModel, kRepo, "refs/convert/parquet", Flags(), Files("parquet"));
  return commits;
}

std::vector<std::pair<RefName, std::string>> LocalRefs(MirrorFixture& f) {
  auto repo = f.registry->FindRepo(RepoType::kModel, kRepo);
  REQUIRE(repo.ok());
  auto listed = f.registry->ListRefs(*repo);
  REQUIRE(listed.ok());
  std::vector<std::pair<RefName, std::string>> refs;
  for (const auto& ref : *listed) refs.emplace_back(ref.ref_name(), ref.commit_id);
  return refs;
}

MirrorSpec Rule(const std::string& revision) {
  MirrorSpec rule;
  rule.repo = kRepo;
  rule.revision = revision;
  return rule;
}

TEST_CASE("Each kind of ref asked for is mirrored as its kind", "[refs]") {
  MirrorFixture f;
  EveryRef commits = PublishEveryRef(f.hub);
  for (const char* revision : {"main", "v1.0", "refs/pr/16", "refs/convert/parquet"}) {
    INFO(revision);
    REQUIRE(f.Sync(kRepo, revision).ok());
  }
  CHECK(LocalRefs(f) == std::vector<std::pair<RefName, std::string>>{
                            {{RefKind::kBranch, "main"}, commits.main},
                            {{RefKind::kConvert, "parquet"}, commits.convert},
                            {{RefKind::kPullRequest, "16"}, commits.pull},
                            {{RefKind::kTag, "v1.0"}, commits.tag}});
  CHECK(f.LocalPaths(kRepo, "refs/pr/16") ==
        std::vector<std::string>{"config.json", "model.safetensors"});
  // The tag's kind was learnt once; later syncs of it ask the repo info only.
  f.hub.ResetCounts();
  auto again = f.Sync(kRepo, "v1.0");
  REQUIRE(again.ok());
  CHECK(again->up_to_date);
  CHECK(f.hub.TotalCalls() == 1);
}

TEST_CASE("The upstream's flags are carried and refreshed with the commit unchanged", "[refs]") {
  MirrorFixture f;
  PublishEveryRef(f.hub);
  REQUIRE(f.Sync(kRepo).ok());
  auto repo = f.registry->FindRepo(RepoType::kModel, kRepo);
  REQUIRE(repo.ok());
  CHECK(repo->gated == "manual");
  CHECK(repo->object_id == "66a0b2c3d4e5f60718293a4b");
  CHECK(repo->likes == 4096);
  CHECK(repo->created_at_ms == *ParseIsoMillis("2024-07-18T08:56:00.000Z"));
  CHECK(repo->last_modified_ms == *ParseIsoMillis("2024-09-25T14:00:00.000Z"));
  auto head = f.registry->ResolveRevision(*repo, "main");
  CHECK(nlohmann::json::parse(head->config_json) == Flags()["config"]);
  CHECK(nlohmann::json::parse(head->safetensors_json) == Flags()["safetensors"]);

  f.hub.UpdateInfo(RepoType::kModel, kRepo,
                   {{"gated", "auto"}, {"likes", 5000}, {"private", true}});
  f.hub.ResetCounts();
  auto unchanged = f.Sync(kRepo);
  REQUIRE(unchanged.ok());
  CHECK(unchanged->up_to_date);
  repo = f.registry->FindRepo(RepoType::kModel, kRepo);
  CHECK(repo->gated == "auto");
  CHECK(repo->likes == 5000);
  CHECK(repo->is_private);
  CHECK(f.hub.TotalCalls() == 1);
}

TEST_CASE("Revision patterns expand against the upstream's refs", "[refs]") {
  MirrorFixture f;
  EveryRef commits = PublishEveryRef(f.hub);
  f.hub.Publish(RepoType::kModel, kRepo, "release-2", Flags(), Files("release"));
  struct Case {
    const char* pattern;
    std::vector<std::string> jobs;
  };
  std::vector<Case> cases = {
      {"tags/*", {kRepo + "@v1.0"}},
      {"refs/pr/*", {kRepo + "@refs/pr/16"}},
      {"refs/convert/*", {kRepo + "@refs/convert/parquet"}},
      {"release-*", {kRepo + "@release-2"}},
      {"*",
       {kRepo + "@main", kRepo + "@release-2", kRepo + "@v1.0", kRepo + "@refs/pr/16",
        kRepo + "@refs/convert/parquet"}},
  };
  for (const auto& c : cases) {
    INFO(c.pattern);
    RecordingListener listener;
    CHECK(RunMirrorPass(f.hub, f.store, *f.registry, {Rule(c.pattern)}, listener) == 0);
    CHECK(listener.problems.empty());
    CHECK(listener.mirrored_revisions == c.jobs);
  }
  CHECK(LocalRefs(f).size() == 5);
  CHECK(f.registry->ResolveRevision(*f.registry->FindRepo(RepoType::kModel, kRepo), "v1.0")->id ==
        commits.tag);
}

TEST_CASE("Refs deleted upstream are deleted here; their commits stay readable", "[refs]") {
  MirrorFixture f;
  EveryRef commits = PublishEveryRef(f.hub);
  RecordingListener first;
  REQUIRE(RunMirrorPass(f.hub, f.store, *f.registry, {Rule("*")}, first) == 0);
  f.hub.DeleteRef(RepoType::kModel, kRepo, "refs/pr/16");
  f.hub.DeleteRef(RepoType::kModel, kRepo, "refs/convert/parquet");

  SECTION("by a pattern that no longer matches them") {
    RecordingListener listener;
    CHECK(RunMirrorPass(f.hub, f.store, *f.registry, {Rule("refs/pr/*")}, listener) == 0);
    CHECK(listener.deleted == std::vector<std::string>{kRepo + "@refs/pr/16"});
    // Refs outside the pattern are not its business.
    CHECK(LocalRefs(f).size() == 3);
  }
  SECTION("by an explicit sync of the ref, which fails") {
    auto report = f.Sync(kRepo, "refs/convert/parquet");
    CHECK(report.status().code() == StatusCode::kRevisionNotFound);
    CHECK(LocalRefs(f).size() == 3);
  }
  auto repo = f.registry->FindRepo(RepoType::kModel, kRepo);
  auto kept = f.registry->ResolveRevision(*repo, commits.pull);
  REQUIRE(kept.ok());
  CHECK(kept->id == commits.pull);
}

TEST_CASE("Refs made here are not deleted as gone upstream, whatever the pattern", "[refs]") {
  MirrorFixture f;
  EveryRef commits = PublishEveryRef(f.hub);
  RecordingListener first;
  REQUIRE(RunMirrorPass(f.hub, f.store, *f.registry, {Rule("*")}, first) == 0);
  // A writable rule's users add a branch and a tag of their own.
  REQUIRE(f.registry->CreateRef(RepoType::kModel, kRepo, {RefKind::kBranch, "mine"}, commits.main)
              .ok());
  REQUIRE(
      f.registry->CreateRef(RepoType::kModel, kRepo, {RefKind::kTag, "v-local"}, commits.tag).ok());
  RecordingListener again;
  CHECK(RunMirrorPass(f.hub, f.store, *f.registry, {Rule("*")}, again) == 0);
  CHECK(again.deleted.empty());
  CHECK(LocalRefs(f).size() == 6);
}

TEST_CASE("Revision rules are validated and matched on full ref names", "[refs]") {
  CHECK(ValidateRevisionRule("main").ok());
  CHECK(ValidateRevisionRule("refs/pr/16").ok());
  CHECK(ValidateRevisionRule(std::string(40, 'a')).ok());
  CHECK(ValidateRevisionRule("tags/*").ok());
  CHECK_FALSE(ValidateRevisionRule("refs/pr/x").ok());
  CHECK_FALSE(ValidateRevisionRule("bad..name").ok());
  CHECK_FALSE(ValidateRevisionRule("a b*").ok());
  CHECK(MatchesRevisionPattern("*", {RefKind::kPullRequest, "3"}));
  CHECK(MatchesRevisionPattern("tags/v*", {RefKind::kTag, "v1.0"}));
  CHECK_FALSE(MatchesRevisionPattern("tags/v*", {RefKind::kBranch, "v1.0"}));
  CHECK(MatchesRevisionPattern("feature/*", {RefKind::kBranch, "feature/x"}));
  CHECK_FALSE(MatchesRevisionPattern("feature/*", {RefKind::kTag, "feature/x"}));
}

}  // namespace
}  // namespace hubmirror::sync
