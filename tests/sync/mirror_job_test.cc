#include "sync/mirror_job.h"

#include <catch2/catch.hpp>

#include "common/digest.h"
#include "tests/fakes/mirror_fixture.h"

namespace hubmirror::sync {
namespace {

using testing::FakeHub;
using testing::MirrorFixture;
using Call = FakeHub::Call;

const std::string kRepo = "acme/model";

std::map<std::string, FakeHub::File> ModelFiles(const std::string& weights = "weights v1") {
  return {{"config.json", {"{\"model_type\": \"llama\"}", false}},
          {"README.md", {"---\nlicense: mit\n---\n# A model\n", false}},
          {"model.safetensors", {weights, true}},
          {"sub/dir/tokenizer.json", {"{}", false}}};
}

nlohmann::json Info() {
  return {{"pipeline_tag", "text-generation"},
          {"library_name", "transformers"},
          {"downloads", 42},
          {"tags", {"license:mit"}},
          {"cardData", {{"license", "mit"}}}};
}

TEST_CASE("A first sync fetches every selected file and publishes the revision", "[mirror]") {
  MirrorFixture f;
  std::string commit = f.hub.Publish(RepoType::kModel, kRepo, "main", Info(), ModelFiles());
  auto report = f.Sync(kRepo);
  REQUIRE(report.ok());
  CHECK(report->commit_id == commit);
  CHECK_FALSE(report->up_to_date);
  CHECK(report->files == 4);
  CHECK(report->downloaded_files == 4);
  CHECK(f.LocalHead(kRepo) == commit);
  CHECK(f.LocalPaths(kRepo, "main") == std::vector<std::string>{"README.md", "config.json",
                                                                "model.safetensors",
                                                                "sub/dir/tokenizer.json"});
  auto states = f.registry->ListSyncStates();
  REQUIRE(states.ok());
  REQUIRE(states->size() == 1);
  CHECK((*states)[0].local_commit == commit);
  CHECK((*states)[0].last_error.empty());
  auto repo = f.registry->FindRepo(RepoType::kModel, kRepo);
  REQUIRE(repo.ok());
  CHECK(repo->downloads == 42);
  CHECK(repo->pipeline_tag == "text-generation");
}

TEST_CASE("An unchanged re-sync makes exactly one upstream request", "[mirror]") {
  MirrorFixture f;
  f.hub.Publish(RepoType::kModel, kRepo, "main", Info(), ModelFiles());
  REQUIRE(f.Sync(kRepo).ok());
  f.hub.ResetCounts();
  size_t writers = f.store.writers_opened();
  auto report = f.Sync(kRepo);
  REQUIRE(report.ok());
  CHECK(report->up_to_date);
  CHECK(f.hub.TotalCalls() == 1);
  CHECK(f.hub.Calls(Call::kGetRevision) == 1);
  CHECK(f.store.writers_opened() == writers);
  // The store is asked once for the whole tree, not once per file.
  size_t lookups = f.store.lookups();
  REQUIRE(f.Sync(kRepo).ok());
  CHECK(f.store.lookups() == lookups + 1);
}

TEST_CASE("A resolved spec costs no upstream request when nothing changed", "[mirror]") {
  MirrorFixture f;
  f.hub.Publish(RepoType::kModel, kRepo, "main", Info(), ModelFiles());
  REQUIRE(f.Sync(kRepo).ok());
  MirrorSpec spec;
  spec.repo = kRepo;
  spec.resolved = f.hub.GetRevision(RepoType::kModel, kRepo, "main").value();
  f.hub.ResetCounts();
  auto report = MirrorRepo(f.hub, f.store, *f.registry, spec);
  REQUIRE(report.ok());
  CHECK(report->up_to_date);
  CHECK(f.hub.TotalCalls() == 0);
}

TEST_CASE("A new commit fetches only the content the store lacks", "[mirror]") {
  MirrorFixture f;
  f.hub.Publish(RepoType::kModel, kRepo, "main", Info(), ModelFiles());
  REQUIRE(f.Sync(kRepo).ok());
  std::string second =
      f.hub.Publish(RepoType::kModel, kRepo, "main", Info(), ModelFiles("weights v2"));
  f.hub.ResetCounts();
  auto report = f.Sync(kRepo);
  REQUIRE(report.ok());
  CHECK(report->downloaded_files == 1);
  CHECK(f.hub.Calls(Call::kDownload) == 1);
  CHECK(f.hub.Calls(Call::kGetCommit) == 1);
  CHECK(f.LocalHead(kRepo) == second);
}

TEST_CASE("Content shared by several paths and repos is fetched once", "[mirror]") {
  MirrorFixture f;
  auto files = ModelFiles();
  files["copy/model.safetensors"] = files["model.safetensors"];
  files["copy/config.json"] = files["config.json"];
  f.hub.Publish(RepoType::kModel, kRepo, "main", Info(), files);
  auto report = f.Sync(kRepo);
  REQUIRE(report.ok());
  CHECK(report->files == 6);
  CHECK(report->downloaded_files == 4);
  f.hub.Publish(RepoType::kModel, "acme/quantized", "main", Info(), ModelFiles());
  f.hub.ResetCounts();
  auto other = f.Sync("acme/quantized");
  REQUIRE(other.ok());
  CHECK(other->downloaded_files == 0);
  CHECK(f.hub.Calls(Call::kDownload) == 0);
}

TEST_CASE("A force-push and deleted files upstream publish the new tree", "[mirror]") {
  MirrorFixture f;
  std::string first = f.hub.Publish(RepoType::kModel, kRepo, "main", Info(), ModelFiles());
  REQUIRE(f.Sync(kRepo).ok());
  // The branch now points at an unrelated commit without two of the files.
  auto files = ModelFiles("rewritten history");
  files.erase("sub/dir/tokenizer.json");
  files.erase("README.md");
  std::string rewritten = f.hub.Publish(RepoType::kModel, kRepo, "main", Info(), files);
  REQUIRE(f.Sync(kRepo).ok());
  CHECK(f.LocalHead(kRepo) == rewritten);
  CHECK(f.LocalPaths(kRepo, "main") ==
        std::vector<std::string>{"config.json", "model.safetensors"});
  // The commit the branch left stays readable by id.
  CHECK(f.LocalPaths(kRepo, first).size() == 4);
}

TEST_CASE("include and exclude select the files mirrored", "[mirror]") {
  MirrorFixture f;
  f.hub.Publish(RepoType::kModel, kRepo, "main", Info(), ModelFiles());
  MirrorSpec spec;
  spec.repo = kRepo;
  spec.include = {"*.json"};
  spec.exclude = {"sub/*"};
  auto report = MirrorRepo(f.hub, f.store, *f.registry, spec);
  REQUIRE(report.ok());
  CHECK(f.LocalPaths(kRepo, "main") == std::vector<std::string>{"config.json"});
}

TEST_CASE("Bytes corrupted in transit are fetched again, then refused", "[mirror]") {
  MirrorFixture f;
  f.hub.Publish(RepoType::kModel, kRepo, "main", Info(), ModelFiles());
  SECTION("once: the second download is good") {
    f.hub.CorruptNextDownloads("model.safetensors", 1);
    auto report = f.Sync(kRepo);
    REQUIRE(report.ok());
    CHECK(f.hub.Calls(Call::kDownload) == 5);
  }
  SECTION("twice: the repo fails, naming file and digests, and nothing is published") {
    f.hub.CorruptNextDownloads("model.safetensors", 2);
    auto report = f.Sync(kRepo);
    REQUIRE_FALSE(report.ok());
    CHECK(report.status().code() == StatusCode::kCorrupt);
    CHECK_THAT(report.status().message(), Catch::Contains("model.safetensors"));
    CHECK_THAT(report.status().message(), Catch::Contains(Sha256Hex("weights v1")));
    CHECK(f.LocalHead(kRepo).empty());
    auto states = f.registry->ListSyncStates();
    REQUIRE(states.ok());
    REQUIRE(states->size() == 1);
    CHECK_FALSE((*states)[0].last_error.empty());
  }
}

TEST_CASE("A failing store publishes nothing; the next run completes", "[mirror]") {
  MirrorFixture f;
  std::string commit = f.hub.Publish(RepoType::kModel, kRepo, "main", Info(), ModelFiles());
  f.store.FailAppendsAfter(3, IoError("disk full"));
  auto failed = f.Sync(kRepo);
  REQUIRE_FALSE(failed.ok());
  CHECK_THAT(failed.status().message(), Catch::Contains("disk full"));
  CHECK(f.LocalHead(kRepo).empty());
  f.store.FailLookups(IoError("store unreachable"));
  REQUIRE_FALSE(f.Sync(kRepo).ok());
  CHECK(f.LocalHead(kRepo).empty());
  REQUIRE(f.Sync(kRepo).ok());
  CHECK(f.LocalHead(kRepo) == commit);
}

TEST_CASE("Upstream errors fail the repo with their code and are recorded", "[mirror]") {
  MirrorFixture f;
  f.hub.Publish(RepoType::kModel, kRepo, "main", Info(), ModelFiles());
  f.hub.FailNext(Call::kListTree, IoError("upstream reset the connection"));
  auto report = f.Sync(kRepo);
  REQUIRE_FALSE(report.ok());
  CHECK(report.status().code() == StatusCode::kIoError);
  auto missing = f.Sync("acme/absent");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == StatusCode::kRepoNotFound);
  auto states = f.registry->ListSyncStates();
  REQUIRE(states.ok());
  CHECK(states->size() == 2);
}

TEST_CASE("Content gone from the store is fetched again for an unchanged revision", "[mirror]") {
  MirrorFixture f;
  f.hub.Publish(RepoType::kModel, kRepo, "main", Info(), ModelFiles());
  REQUIRE(f.Sync(kRepo).ok());
  REQUIRE(f.local_store->Delete(Sha256Hex("weights v1")).ok());
  f.hub.ResetCounts();
  auto report = f.Sync(kRepo);
  REQUIRE(report.ok());
  CHECK_FALSE(report->up_to_date);
  CHECK(report->downloaded_files == 1);
  CHECK(f.local_store->Contains(Sha256Hex("weights v1")).value());
}

TEST_CASE("A pinned commit is stored without moving a branch", "[mirror]") {
  MirrorFixture f;
  std::string commit = f.hub.Publish(RepoType::kModel, kRepo, "main", Info(), ModelFiles());
  auto report = f.Sync(kRepo, commit);
  REQUIRE(report.ok());
  CHECK(f.LocalHead(kRepo).empty());
  CHECK(f.LocalPaths(kRepo, commit).size() == 4);
}

TEST_CASE("Base models stated by the upstream become lineage edges", "[mirror]") {
  MirrorFixture f;
  nlohmann::json info = Info();
  info["baseModels"] = {{"relation", "quantized"},
                        {"models", {{{"_id", "x"}, {"id", "acme/base"}}}}};
  f.hub.Publish(RepoType::kModel, kRepo, "main", info, ModelFiles());
  REQUIRE(f.Sync(kRepo).ok());
  auto edges = f.registry->ParentEdges(kRepo);
  REQUIRE(edges.ok());
  REQUIRE(edges->size() == 1);
  CHECK((*edges)[0].parent == "acme/base");
  CHECK((*edges)[0].relation == "quantized");
}

}  // namespace
}  // namespace hubmirror::sync

namespace hubmirror::sync {
namespace {

TEST_CASE("A rule's access setting and grants apply after every sync", "[mirror][access]") {
  MirrorFixture f;
  f.hub.Publish(RepoType::kModel, kRepo, "main", Info(), ModelFiles());
  REQUIRE(f.registry->AddUser("alice", false, false).ok());
  REQUIRE(f.registry->AddUser("bob", false, false).ok());
  REQUIRE(f.registry->AddOrg("ml-team").ok());
  REQUIRE(f.registry->SetOrgMember("ml-team", "bob", registry::OrgRole::kRead).ok());
  MirrorSpec spec;
  spec.repo = kRepo;
  spec.access.is_private = false;
  spec.access.gated = "manual";
  spec.grants = {"alice", "ML-Team"};
  REQUIRE(MirrorRepo(f.hub, f.store, *f.registry, spec).ok());
  auto repo = f.registry->FindRepo(RepoType::kModel, kRepo);
  REQUIRE(repo.ok());
  CHECK(repo->gated == "manual");
  for (const char* user : {"alice", "bob"}) {
    CHECK(*f.registry->HasAccess(*repo, f.registry->FindUser(user)->id));
  }
  // Unchanged upstream, same rule: nothing new to grant, and the setting stays.
  REQUIRE(MirrorRepo(f.hub, f.store, *f.registry, spec)->up_to_date);

  spec.grants = {"nobody"};
  auto refused = MirrorRepo(f.hub, f.store, *f.registry, spec);
  CHECK(refused.status().code() == StatusCode::kNotFound);
  CHECK_THAT(refused.status().message(), Catch::Contains("'nobody'"));
}

TEST_CASE("A rule's writable applies after every sync; a sync no rule asked for keeps it",
          "[mirror]") {
  MirrorFixture f;
  f.hub.Publish(RepoType::kModel, kRepo, "main", Info(), ModelFiles());
  MirrorSpec spec;
  spec.repo = kRepo;
  spec.writable = true;
  REQUIRE(MirrorRepo(f.hub, f.store, *f.registry, spec).ok());
  CHECK(*f.registry->AllowsLocalWrites(RepoType::kModel, kRepo));
  spec.writable.reset();
  REQUIRE(MirrorRepo(f.hub, f.store, *f.registry, spec)->up_to_date);
  CHECK(*f.registry->AllowsLocalWrites(RepoType::kModel, kRepo));
  spec.writable = false;
  REQUIRE(MirrorRepo(f.hub, f.store, *f.registry, spec)->up_to_date);
  CHECK_FALSE(*f.registry->AllowsLocalWrites(RepoType::kModel, kRepo));
}

}  // namespace
}  // namespace hubmirror::sync
