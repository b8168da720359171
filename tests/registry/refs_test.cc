#include <catch2/catch.hpp>

#include "registry/registry.h"
#include "tests/registry/registry_test_support.h"

namespace hubmirror::registry::testing {
namespace {

const std::string kMain(40, '1');
const std::string kPull(40, '2');
const std::string kParquet(40, '3');

// acme/d (a dataset) with main, pull request 16 and the parquet conversion, each its own commit.
std::unique_ptr<Registry> RepoWithEveryKindOfRef(const TempDir& dir) {
  auto registry = OpenRegistry(dir);
  auto publish = [&](const std::string& commit, std::optional<RefName> ref) {
    NewRevision revision = Revision("acme/d", commit, "", {File("data.csv", commit, commit)});
    revision.type = RepoType::kDataset;
    revision.ref = std::move(ref);
    REQUIRE(registry->PublishRevision(revision).ok());
  };
  publish(kMain, RefName{RefKind::kBranch, "main"});
  publish(kPull, RefName{RefKind::kPullRequest, "16"});
  publish(kParquet, RefName{RefKind::kConvert, "parquet"});
  return registry;
}

TEST_CASE("pull requests and conversions resolve by their full names, and list short",
          "[registry]") {
  TempDir dir;
  auto registry = RepoWithEveryKindOfRef(dir);
  auto repo = registry->FindRepo(RepoType::kDataset, "acme/d");
  REQUIRE(repo.ok());
  CHECK(registry->ResolveRevision(*repo, "refs/pr/16")->id == kPull);
  CHECK(registry->ResolveRevision(*repo, "refs/convert/parquet")->id == kParquet);
  CHECK(registry->ResolveRevision(*repo, "refs/heads/main")->id == kMain);
  // A pull request's short name is not a revision: "16" could be a branch.
  CHECK(registry->ResolveRevision(*repo, "16").status().code() == StatusCode::kRevisionNotFound);
  CHECK(registry->ResolveRevision(*repo, "refs/tags/main").status().code() ==
        StatusCode::kRevisionNotFound);
  auto file = registry->ResolveFile(RepoType::kDataset, "acme/d", "refs/pr/16", "data.csv");
  REQUIRE(file.ok());
  CHECK(file->commit_id == kPull);
  CHECK(registry->ResolveFile(RepoType::kDataset, "acme/d", "refs/heads/main", "data.csv")
            ->commit_id == kMain);

  auto refs = registry->ListRefs(*repo);
  REQUIRE(refs.ok());
  REQUIRE(refs->size() == 3);
  std::vector<std::pair<RefName, std::string>> listed;
  for (const auto& ref : *refs) listed.emplace_back(ref.ref_name(), ref.commit_id);
  CHECK(listed ==
        std::vector<std::pair<RefName, std::string>>{{{RefKind::kBranch, "main"}, kMain},
                                                     {{RefKind::kConvert, "parquet"}, kParquet},
                                                     {{RefKind::kPullRequest, "16"}, kPull}});
}

TEST_CASE("deleted refs are gone while their commits stay readable by id", "[registry]") {
  TempDir dir;
  auto registry = RepoWithEveryKindOfRef(dir);
  for (const char* revision : {"main", "refs/pr/16"}) {
    REQUIRE(registry
                ->RecordSync({RepoType::kDataset, "acme/d", revision, "http://up", kPull, kPull,
                              1000, 1000, ""})
                .ok());
  }
  auto deleted = registry->DeleteRefs(
      RepoType::kDataset, "ACME/d",
      {{RefKind::kPullRequest, "16"}, {RefKind::kPullRequest, "17"}, {RefKind::kTag, "main"}});
  REQUIRE(deleted.ok());
  CHECK(*deleted == 1);
  auto repo = registry->FindRepo(RepoType::kDataset, "acme/d");
  CHECK(registry->ResolveRevision(*repo, "refs/pr/16").status().code() ==
        StatusCode::kRevisionNotFound);
  CHECK(registry->ResolveRevision(*repo, kPull)->id == kPull);
  CHECK(registry->ListRefs(*repo)->size() == 2);
  auto states = registry->ListSyncStates();
  REQUIRE(states->size() == 1);
  CHECK((*states)[0].revision == "main");
}

TEST_CASE("tags are created with a commit and never moved", "[registry]") {
  TempDir dir;
  auto registry = OpenRegistry(dir);
  NewRevision first = Revision("acme/m", kMain, "", {File("a", "1", kMain)});
  first.tags = {"v1.0"};
  REQUIRE(registry->PublishRevision(first).ok());
  // The same tag at the same commit again is nothing new.
  CHECK_FALSE(registry->PublishRevision(first).value());
  NewRevision second = Revision("acme/m", kPull, kMain, {File("a", "2", kPull)});
  second.tags = {"v1.0"};
  auto refused = registry->PublishRevision(second);
  CHECK(refused.status().code() == StatusCode::kAlreadyExists);
  CHECK(refused.status().message().find("tag v1.0 already points at " + kMain) !=
        std::string::npos);
  auto repo = registry->FindRepo(RepoType::kModel, "acme/m");
  // Refused as a whole: the branch did not move either.
  CHECK(registry->ResolveRevision(*repo, "main")->id == kMain);
  CHECK(registry->ResolveRevision(*repo, "v1.0")->id == kMain);
}

TEST_CASE("repo details follow the upstream, the head's card becomes the repo's", "[registry]") {
  TempDir dir;
  auto registry = OpenRegistry(dir);
  REQUIRE(registry->PublishRevision(Revision("acme/m", kMain, "", {File("a", "1", kMain)})).ok());
  RepoDetails details;
  details.object_id = "66a0b2c3d4e5f60718293a4b";
  details.author = "acme";
  details.gated = "auto";
  details.is_private = true;
  details.disabled = true;
  details.created_at_ms = 1600000000000;
  details.last_modified_ms = 1700000001000;
  details.downloads = 12;
  details.likes = 3;
  details.commit.id = kMain;
  details.commit.card_data_json = R"({"license":"apache-2.0"})";
  details.commit.tags = {"safetensors", "region:us"};
  details.commit.pipeline_tag = "text-generation";
  details.commit.config_json = R"({"model_type":"llama"})";
  details.commit.safetensors_json = R"({"total":8})";
  REQUIRE(registry->UpdateRepoDetails(RepoType::kModel, "acme/m", details).ok());
  auto repo = registry->FindRepo(RepoType::kModel, "acme/m");
  REQUIRE(repo.ok());
  CHECK(repo->object_id == details.object_id);
  CHECK(repo->gated == "auto");
  CHECK(repo->is_private);
  CHECK(repo->disabled);
  CHECK(repo->created_at_ms == 1600000000000);
  CHECK(repo->last_modified_ms == 1700000001000);
  CHECK(repo->downloads == 12);
  CHECK(repo->likes == 3);
  CHECK(repo->pipeline_tag == "text-generation");
  CHECK(*registry->RepoTags(*repo) == details.commit.tags);
  auto head = registry->ResolveRevision(*repo, "main");
  CHECK(head->config_json == details.commit.config_json);
  CHECK(head->safetensors_json == details.commit.safetensors_json);
  CHECK(head->card_data_json == details.commit.card_data_json);

  // Silent fields keep what the mirror has; a repo the mirror lacks is left alone.
  RepoDetails sparse;
  sparse.gated = "false";
  REQUIRE(registry->UpdateRepoDetails(RepoType::kModel, "acme/m", sparse).ok());
  repo = registry->FindRepo(RepoType::kModel, "acme/m");
  CHECK(repo->object_id == details.object_id);
  CHECK(repo->created_at_ms == 1600000000000);
  CHECK(repo->gated == "false");
  CHECK(registry->UpdateRepoDetails(RepoType::kModel, "acme/absent", details).ok());
  CHECK(registry->FindRepo(RepoType::kModel, "acme/absent").status().code() ==
        StatusCode::kRepoNotFound);
}

}  // namespace
}  // namespace hubmirror::registry::testing
