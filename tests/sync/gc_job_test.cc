#include "sync/gc_job.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "common/digest.h"
#include "sync/pull_through.h"
#include "tests/fakes/mirror_fixture.h"

namespace hubmirror::sync {
namespace {

using testing::FakeHub;
using testing::MirrorFixture;

const std::string kRepo = "acme/model";

std::map<std::string, FakeHub::File> ModelFiles(const std::string& weights) {
  return {{"config.json", {"{\"model_type\": \"llama\"}", false}},
          {"model.safetensors", {weights, true}}};
}

// Stores `content` with no row naming it, as an interrupted job leaves it.
std::string StoreOrphan(storage::BlobStore& store, const std::string& content) {
  auto writer = store.NewWriter({content.size(), "", ""});
  REQUIRE(writer.ok());
  REQUIRE((*writer)->Append(content.data(), content.size()).ok());
  auto stored = (*writer)->Commit();
  REQUIRE(stored.ok());
  return stored->sha256;
}

GcOptions NoGrace(bool dry_run = false) {
  // What was written a moment ago is no longer within a grace period of zero.
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  GcOptions options;
  options.grace = std::chrono::seconds(0);
  options.dry_run = dry_run;
  return options;
}

TEST_CASE("gc removes blobs no commit uses and keeps every blob a commit uses", "[gc]") {
  MirrorFixture f;
  f.hub.Publish(RepoType::kModel, kRepo, "main", {}, ModelFiles("weights v1"));
  REQUIRE(f.Sync(kRepo).ok());
  f.hub.Publish(RepoType::kModel, kRepo, "main", {}, ModelFiles("weights v2"));
  REQUIRE(f.Sync(kRepo).ok());
  std::string orphan = StoreOrphan(f.store, std::string(1000, 'o'));
  size_t stored = f.StoredBlobCount();

  auto dry = CollectGarbage(f.store, *f.registry, NoGrace(true));
  REQUIRE(dry.ok());
  CHECK(dry->blobs == 1);
  CHECK(dry->blob_bytes == 1000);
  CHECK(f.StoredBlobCount() == stored);

  auto report = CollectGarbage(f.store, *f.registry, NoGrace());
  REQUIRE(report.ok());
  CHECK(report->blobs == 1);
  CHECK(report->bytes() == 1000);
  CHECK(report->live_blobs == 3);  // the config and both revisions' weights
  CHECK_FALSE(f.local_store->Contains(orphan).value());
  CHECK(f.StoredBlobCount() == stored - 1);

  auto again = CollectGarbage(f.store, *f.registry, NoGrace());
  REQUIRE(again.ok());
  CHECK(again->blobs == 0);
}

TEST_CASE("gc keeps unused blobs within the grace period", "[gc]") {
  MirrorFixture f;
  std::string orphan = StoreOrphan(f.store, "recent");
  GcOptions options;  // the default grace: an hour
  auto report = CollectGarbage(f.store, *f.registry, options);
  REQUIRE(report.ok());
  CHECK(report->blobs == 0);
  CHECK(report->recent_blobs == 1);
  CHECK(f.local_store->Contains(orphan).value());
}

TEST_CASE("gc keeps what a running job stored before any row names it", "[gc]") {
  MirrorFixture f;
  auto lease = f.store.LeaseWrites();
  REQUIRE(lease.ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::string written = StoreOrphan(f.store, "written by a job still running");
  auto kept = CollectGarbage(f.store, *f.registry, NoGrace());
  REQUIRE(kept.ok());
  CHECK(kept->blobs == 0);
  CHECK(f.local_store->Contains(written).value());

  lease->reset();  // the job ended without publishing: its blob is garbage now
  auto removed = CollectGarbage(f.store, *f.registry, NoGrace());
  REQUIRE(removed.ok());
  CHECK(removed->blobs == 1);
  CHECK_FALSE(f.local_store->Contains(written).value());
}

TEST_CASE("gc keeps stored content a new job counts on instead of writing it", "[gc]") {
  MirrorFixture f;
  std::string weights(5000, 'w');
  std::string orphan = StoreOrphan(f.store, weights);
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  // The sync finds the content stored and touches it instead of downloading it.
  f.hub.Publish(RepoType::kModel, kRepo, "main", {}, ModelFiles(weights));
  auto lease = f.store.LeaseWrites();
  REQUIRE(lease.ok());
  REQUIRE(f.Sync(kRepo).ok());
  CHECK(f.hub.Calls(FakeHub::Call::kDownload) == 1);  // the config only
  auto report = CollectGarbage(f.store, *f.registry, NoGrace());
  REQUIRE(report.ok());
  CHECK(report->blobs == 0);
  CHECK(f.local_store->Contains(orphan).value());
}

TEST_CASE("content pull-through has not fetched yet is not garbage, and its rows stay", "[gc]") {
  MirrorFixture f;
  f.hub.Publish(RepoType::kModel, kRepo, "main", {}, ModelFiles("pulled"));
  UpstreamPullThrough pull({}, f.shared_hub, nullptr, nullptr, f.store, f.dir / "data/registry.db",
                           f.dir / "data/tmp");
  REQUIRE(pull.FetchRevision(RepoType::kModel, kRepo, "main").ok());
  auto report = CollectGarbage(f.store, *f.registry, NoGrace());
  REQUIRE(report.ok());
  CHECK(report->blobs == 0);
  auto row = f.registry->FindBlobs({Sha256Hex("pulled")});
  REQUIRE(row.ok());
  auto resolved = f.registry->ResolveFile(RepoType::kModel, kRepo, "main", "model.safetensors");
  REQUIRE(resolved.ok());
  REQUIRE(resolved->entry);
  CHECK(resolved->entry->blob_state == registry::BlobState::kAbsent);
}

TEST_CASE("Retention releases old revisions; gc then frees what only they used", "[gc]") {
  MirrorFixture f;
  std::vector<std::string> commits;
  for (const std::string version : {"v1", "v2", "v3"}) {
    commits.push_back(
        f.hub.Publish(RepoType::kModel, kRepo, "main", {}, ModelFiles("weights " + version)));
    REQUIRE(f.Sync(kRepo).ok());
  }
  // A tag keeps the first revision whatever the branch keeps.
  f.hub.Publish(RepoType::kModel, kRepo, "refs/tags/v1", {}, ModelFiles("weights v1"));
  REQUIRE(f.Sync(kRepo, "v1").ok());
  auto released = f.registry->ReleaseRevisions(RepoType::kModel, kRepo, {1, std::nullopt});
  REQUIRE(released.ok());
  CHECK(*released == 1);  // v2: neither the branch's newest nor tagged
  auto repo = f.registry->FindRepo(RepoType::kModel, kRepo);
  REQUIRE(repo.ok());
  CHECK(f.registry->ResolveRevision(*repo, commits[0]).ok());
  CHECK(f.registry->ResolveRevision(*repo, commits[1]).status().code() ==
        StatusCode::kRevisionNotFound);
  CHECK(f.registry->ResolveRevision(*repo, commits[2]).ok());

  auto report = CollectGarbage(f.store, *f.registry, NoGrace());
  REQUIRE(report.ok());
  CHECK(report->blobs == 1);
  CHECK(report->blob_bytes == std::string("weights v2").size());
  CHECK_FALSE(f.local_store->Contains(Sha256Hex("weights v2")).value());
  CHECK(f.local_store->Contains(Sha256Hex("weights v1")).value());
  CHECK(f.local_store->Contains(Sha256Hex("weights v3")).value());
  CHECK(f.registry->ReleaseRevisions(RepoType::kModel, kRepo, {0, std::nullopt}).status().code() ==
        StatusCode::kInvalidArgument);
  CHECK(f.registry->ReleaseRevisions(RepoType::kModel, kRepo, {}).status().code() ==
        StatusCode::kInvalidArgument);
}

TEST_CASE("Retention by age keeps revisions dated within the duration, and refs' targets", "[gc]") {
  MirrorFixture f;
  std::vector<std::string> commits;
  for (const std::string version : {"v1", "v2", "v3"}) {
    commits.push_back(
        f.hub.Publish(RepoType::kModel, kRepo, "main", {}, ModelFiles("weights " + version)));
    REQUIRE(f.Sync(kRepo).ok());
  }
  auto repo = f.registry->FindRepo(RepoType::kModel, kRepo);
  REQUIRE(repo.ok());
  // The fake upstream dates every commit 2024-10-01: a century keeps them all.
  constexpr int64_t kCentury = 36500LL * 86400;
  auto kept_all = f.registry->ReleaseRevisions(RepoType::kModel, kRepo, {std::nullopt, kCentury});
  REQUIRE(kept_all.ok());
  CHECK(*kept_all == 0);
  // With both rules, what either keeps stays: the newest two, though older than a day.
  auto by_count = f.registry->ReleaseRevisions(RepoType::kModel, kRepo, {2, 86400});
  REQUIRE(by_count.ok());
  CHECK(*by_count == 1);
  CHECK_FALSE(f.registry->ResolveRevision(*repo, commits[0]).ok());
  // A day alone keeps only what the branch points at.
  auto by_age = f.registry->ReleaseRevisions(RepoType::kModel, kRepo, {std::nullopt, 86400});
  REQUIRE(by_age.ok());
  CHECK(*by_age == 1);
  CHECK_FALSE(f.registry->ResolveRevision(*repo, commits[1]).ok());
  CHECK(f.registry->ResolveRevision(*repo, commits[2]).ok());
  // The setting round-trips, and clears.
  REQUIRE(f.registry->SetRetention(RepoType::kModel, kRepo, {3, 86400}).ok());
  auto set = f.registry->GetRetention(RepoType::kModel, kRepo);
  REQUIRE(set.ok());
  CHECK(set->revisions == size_t{3});
  CHECK(set->within_seconds == int64_t{86400});
  REQUIRE(f.registry->SetRetention(RepoType::kModel, kRepo, {}).ok());
  CHECK_FALSE(f.registry->GetRetention(RepoType::kModel, kRepo).value().Any());
  CHECK(f.registry->SetRetention(RepoType::kModel, kRepo, {std::nullopt, -5}).code() ==
        StatusCode::kInvalidArgument);
}

TEST_CASE("A rule's keep_revisions is applied after each sync", "[gc]") {
  MirrorFixture f;
  MirrorSpec spec;
  spec.repo = kRepo;
  spec.retention.revisions = 2;
  std::vector<std::string> commits;
  for (const std::string version : {"v1", "v2", "v3"}) {
    commits.push_back(
        f.hub.Publish(RepoType::kModel, kRepo, "main", {}, ModelFiles("weights " + version)));
    REQUIRE(MirrorRepo(f.hub, f.store, *f.registry, spec).ok());
  }
  auto repo = f.registry->FindRepo(RepoType::kModel, kRepo);
  REQUIRE(repo.ok());
  CHECK_FALSE(f.registry->ResolveRevision(*repo, commits[0]).ok());
  CHECK(f.registry->ResolveRevision(*repo, commits[1]).ok());
  CHECK(f.registry->ResolveRevision(*repo, commits[2]).ok());
}

TEST_CASE("gc forgets the rows of blobs it removed", "[gc]") {
  MirrorFixture f;
  std::string orphan = StoreOrphan(f.store, "row without a file");
  registry::BlobRow row{orphan, 18, ""};
  // A blob row left by a job that stored content but published no commit.
  REQUIRE(f.registry->RecordFilledContent({RepoType::kModel, kRepo, "0", "x", row}).ok());
  REQUIRE(f.registry->FindBlob(orphan).value().has_value());
  REQUIRE(CollectGarbage(f.store, *f.registry, NoGrace()).ok());
  CHECK_FALSE(f.registry->FindBlob(orphan).value().has_value());
}

}  // namespace
}  // namespace hubmirror::sync
