#include "sync/verify_job.h"

#include <catch2/catch.hpp>

#include "common/digest.h"
#include "tests/fakes/mirror_fixture.h"

namespace hubmirror::sync {
namespace {

using testing::MirrorFixture;

// A mirrored model with three files, whose stored copies the tests damage.
struct VerifyFixture : MirrorFixture {
  VerifyFixture() {
    hub.Publish(RepoType::kModel, "acme/model", "main", nlohmann::json::object(),
                {{"config.json", {"{\"a\": 1}", false}},
                 {"model.safetensors", {"weights", true}},
                 {"tokenizer.json", {"{\"b\": 2}", false}}});
    REQUIRE(Sync("acme/model").ok());
  }
  void Overwrite(const std::string& content, const std::string& with) {
    auto path = local_store->BlobPath(Sha256Hex(content));
    std::filesystem::permissions(path, std::filesystem::perms::owner_write,
                                 std::filesystem::perm_options::add);
    testing::WriteFile(path, with);
  }
  VerifyReport Verify() {
    auto report = VerifyStore(store, *registry, VerifyOptions{}, nullptr);
    REQUIRE(report.ok());
    return std::move(report.value());
  }
};

TEST_CASE("An intact store verifies clean", "[verify]") {
  VerifyFixture f;
  VerifyReport report = f.Verify();
  CHECK(report.clean());
  CHECK(report.blobs == 3);
}

TEST_CASE("Corrupt and missing blobs are named, quarantined, marked, and repaired", "[verify]") {
  VerifyFixture f;
  f.Overwrite("weights", "weighs");  // same size, other bytes
  REQUIRE(f.local_store->Delete(Sha256Hex("{\"b\": 2}")).ok());
  VerifyReport report = f.Verify();
  REQUIRE(report.problems.size() == 2);
  for (const auto& problem : report.problems) {
    REQUIRE_FALSE(problem.uses.empty());
    if (problem.sha256 == Sha256Hex("weights")) {
      CHECK(problem.state == registry::BlobState::kCorrupt);
      CHECK_THAT(problem.detail, Catch::Contains(Sha256Hex("weighs")));
      CHECK(problem.uses[0].path == "model.safetensors");
    } else {
      CHECK(problem.state == registry::BlobState::kMissing);
      CHECK(problem.uses[0].path == "tokenizer.json");
    }
  }
  CHECK_FALSE(f.local_store->Contains(Sha256Hex("weights")).value());
  CHECK_FALSE(std::filesystem::is_empty(f.dir / "data/quarantine"));
  auto repo = f.registry->FindRepo(RepoType::kModel, "acme/model");
  REQUIRE(repo.ok());
  auto head = f.registry->ResolveRevision(*repo, "main");
  REQUIRE(head.ok());
  auto weights = f.registry->FindEntry(*repo, head->id, "model.safetensors");
  REQUIRE(weights.ok());
  CHECK((*weights)->blob_state == registry::BlobState::kCorrupt);

  // The next sync fetches exactly the damaged content again, and verify is clean after it.
  f.hub.ResetCounts();
  auto synced = f.Sync("acme/model");
  REQUIRE(synced.ok());
  CHECK(synced->downloaded_files == 2);
  CHECK(f.Verify().clean());
}

TEST_CASE("A store that cannot be read fails verify instead of passing it", "[verify]") {
  VerifyFixture f;
  std::filesystem::remove_all(f.dir / "data/blobs");
  VerifyReport report = f.Verify();
  CHECK(report.problems.size() == 3);
  CHECK_FALSE(report.clean());
}

}  // namespace
}  // namespace hubmirror::sync
