#include "sync/pull_through.h"

#include <catch2/catch.hpp>
#include <condition_variable>
#include <mutex>

#include "common/digest.h"
#include "common/files.h"
#include "common/signing.h"
#include "sync/bundle.h"
#include "tests/fakes/mirror_fixture.h"

namespace hubmirror::sync {
namespace {

using testing::FakeHub;
using testing::MirrorFixture;
using Call = FakeHub::Call;

const std::string kRepo = "acme/model";
const std::string kWeights(300000, 'w');

std::map<std::string, FakeHub::File> ModelFiles(const std::string& weights = kWeights) {
  return {{"config.json", {"{\"model_type\": \"llama\"}", false}},
          {"model.safetensors", {weights, true}}};
}

// A pull-through over the fixture's data directory and fake upstream.
struct PullFixture : MirrorFixture {
  explicit PullFixture(PullThroughPolicy policy = {})
      : pull(std::move(policy), shared_hub, nullptr, counters, store, dir / "data/registry.db",
             dir / "data/tmp") {}

  registry::Entry File(const std::string& path, const std::string& revision = "main") {
    auto resolved = registry->ResolveFile(RepoType::kModel, kRepo, revision, path);
    REQUIRE(resolved.ok());
    REQUIRE(resolved->entry);
    return *resolved->entry;
  }

  api::FileToFetch ToFetch(const std::string& path) {
    registry::Entry entry = File(path);
    return {RepoType::kModel,
            kRepo,
            LocalHead(kRepo),
            entry.path,
            entry.size,
            entry.lfs,
            entry.lfs ? entry.sha256 : "",
            entry.git_oid};
  }

  std::shared_ptr<UpstreamCounters> counters = std::make_shared<UpstreamCounters>();
  UpstreamPullThrough pull;  // after `counters`, which it is given
};

// Waits until a stream's fetch ends; its final state.
api::ContentStream::State WaitForEnd(api::ContentStream& stream) {
  std::mutex mutex;
  std::condition_variable woken;
  for (;;) {
    bool wake = false;
    auto progress = stream.Poll(UINT64_MAX, [&] {
      std::lock_guard lock(mutex);
      wake = true;
      woken.notify_one();
    });
    if (progress.state != api::ContentStream::State::kRunning) return progress.state;
    std::unique_lock lock(mutex);
    woken.wait_for(lock, std::chrono::milliseconds(50), [&] { return wake; });
  }
}

std::string ReadAll(const api::ContentStream& stream) {
  std::string bytes(stream.size(), '\0');
  REQUIRE(ReadFullyAt(stream.fd(), 0, bytes.data(), bytes.size()).ok());
  return bytes;
}

TEST_CASE("Pull-through patterns: ORG/GLOB for both types, TYPE/ORG/GLOB for one", "[pull]") {
  PullThroughPolicy policy;
  policy.allow = {"acme/*", "datasets/open/*"};
  policy.deny = {"acme/secret-*"};
  CHECK(policy.Covers(RepoType::kModel, "acme/llama"));
  CHECK(policy.Covers(RepoType::kDataset, "ACME/Llama"));
  CHECK_FALSE(policy.Covers(RepoType::kModel, "acme/secret-weights"));
  CHECK(policy.Covers(RepoType::kDataset, "open/corpus"));
  CHECK_FALSE(policy.Covers(RepoType::kModel, "open/corpus"));
  CHECK_FALSE(policy.Covers(RepoType::kModel, "other/llama"));
  policy.allow = {"*"};
  CHECK(policy.Covers(RepoType::kModel, "other/llama"));
  CHECK(PullThroughPolicy::ValidatePattern("*").ok());
  CHECK(PullThroughPolicy::ValidatePattern("models/acme/*").ok());
  CHECK_FALSE(PullThroughPolicy::ValidatePattern("acme").ok());
  CHECK_FALSE(PullThroughPolicy::ValidatePattern("spaces/acme/x").ok());
  CHECK_FALSE(PullThroughPolicy::ValidatePattern("").ok());
}

TEST_CASE("A fetched revision is recorded with its content absent, and trusted for max_age",
          "[pull]") {
  PullFixture f;
  std::string commit = f.hub.Publish(RepoType::kModel, kRepo, "main", {}, ModelFiles());
  REQUIRE(f.pull.FetchRevision(RepoType::kModel, kRepo, "main").ok());
  CHECK(f.LocalHead(kRepo) == commit);
  CHECK(f.hub.Calls(Call::kDownload) == 0);
  CHECK(f.StoredBlobCount() == 0);
  registry::Entry weights = f.File("model.safetensors");
  CHECK(weights.blob_state == registry::BlobState::kAbsent);
  CHECK(weights.sha256 == Sha256Hex(kWeights));
  registry::Entry config = f.File("config.json");
  CHECK(config.blob_state == registry::BlobState::kAbsent);
  CHECK(config.sha256.empty());
  // Content never stored is not what verify checks.
  auto blobs = f.registry->ListBlobs(std::nullopt, "");
  REQUIRE(blobs.ok());
  CHECK(blobs->empty());
  auto inconsistent = f.registry->InconsistentFiles(std::nullopt, "");
  REQUIRE(inconsistent.ok());
  CHECK(inconsistent->empty());
  auto state = f.registry->FindSyncState(RepoType::kModel, kRepo, "main");
  REQUIRE(state.ok());
  REQUIRE(state->has_value());
  CHECK((*state)->pull_through);

  f.hub.ResetCounts();
  CHECK(f.pull.Fresh(RepoType::kModel, kRepo, "main"));
  REQUIRE(f.pull.FetchRevision(RepoType::kModel, kRepo, "main").ok());
  CHECK(f.hub.TotalCalls() == 0);
}

TEST_CASE("A fill stores verified content and gives a git-stored file its digest", "[pull]") {
  PullFixture f;
  f.hub.Publish(RepoType::kModel, kRepo, "main", {}, ModelFiles());
  REQUIRE(f.pull.FetchRevision(RepoType::kModel, kRepo, "main").ok());
  for (const std::string path : {"model.safetensors", "config.json"}) {
    auto stream = f.pull.Fill(f.ToFetch(path));
    REQUIRE(stream.ok());
    REQUIRE(WaitForEnd(**stream) == api::ContentStream::State::kDone);
    std::string expected = ModelFiles().at(path).content;
    CHECK(ReadAll(**stream) == expected);
    registry::Entry entry = f.File(path);
    CHECK(entry.blob_state == registry::BlobState::kOk);
    CHECK(entry.sha256 == Sha256Hex(expected));
    auto stored = f.local_store->Contains(Sha256Hex(expected));
    REQUIRE(stored.ok());
    CHECK(*stored);
  }
  CHECK(f.hub.Calls(Call::kDownload) == 2);
  auto blobs = f.registry->ListBlobs(std::nullopt, "");
  REQUIRE(blobs.ok());
  CHECK(blobs->size() == 2);
  CHECK(f.counters->fill_files == 2);
  CHECK(f.counters->fill_bytes == kWeights.size() + ModelFiles().at("config.json").content.size());
  CHECK(f.counters->fill_errors == 0);
}

TEST_CASE("A fill whose bytes do not match fails, stores nothing, and the next one succeeds",
          "[pull]") {
  PullFixture f;
  f.hub.Publish(RepoType::kModel, kRepo, "main", {}, ModelFiles());
  REQUIRE(f.pull.FetchRevision(RepoType::kModel, kRepo, "main").ok());
  f.hub.CorruptNextDownloads("model.safetensors");
  auto bad = f.pull.Fill(f.ToFetch("model.safetensors"));
  REQUIRE(bad.ok());
  CHECK(WaitForEnd(**bad) == api::ContentStream::State::kFailed);
  CHECK((*bad)->failure().find("sha256 mismatch") != std::string::npos);
  CHECK(f.StoredBlobCount() == 0);
  CHECK(f.File("model.safetensors").blob_state == registry::BlobState::kAbsent);
  CHECK(f.counters->fill_errors == 1);
  CHECK(f.counters->fill_files == 0);

  auto good = f.pull.Fill(f.ToFetch("model.safetensors"));
  REQUIRE(good.ok());
  REQUIRE(WaitForEnd(**good) == api::ContentStream::State::kDone);
  CHECK(ReadAll(**good) == kWeights);
  CHECK(f.File("model.safetensors").blob_state == registry::BlobState::kOk);
  CHECK(f.counters->fill_files == 1);
}

TEST_CASE("Content already stored is recorded without another download", "[pull]") {
  PullFixture f;
  f.hub.Publish(RepoType::kModel, kRepo, "main", {}, ModelFiles());
  REQUIRE(f.pull.FetchRevision(RepoType::kModel, kRepo, "main").ok());
  auto first = f.pull.Fill(f.ToFetch("model.safetensors"));
  REQUIRE(first.ok());
  REQUIRE(WaitForEnd(**first) == api::ContentStream::State::kDone);
  auto again = f.pull.Fill(f.ToFetch("model.safetensors"));
  REQUIRE(again.ok());
  REQUIRE(WaitForEnd(**again) == api::ContentStream::State::kDone);
  CHECK(ReadAll(**again) == kWeights);
  CHECK(f.hub.Calls(Call::kDownload) == 1);
}

TEST_CASE("A repo whose content is not all stored yet is not exported", "[pull]") {
  PullFixture f;
  f.hub.Publish(RepoType::kModel, kRepo, "main", {}, ModelFiles());
  REQUIRE(f.pull.FetchRevision(RepoType::kModel, kRepo, "main").ok());
  auto key = SigningKey::LoadOrCreate(f.dir / "signing-key.pem");
  REQUIRE(key.ok());
  ExportOptions options;
  options.out = f.dir / "bundle";
  options.all = true;
  auto refused = ExportBundle(f.store, *f.registry, **key, options, nullptr);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == StatusCode::kFailedPrecondition);
  CHECK(refused.status().message().find("not stored yet") != std::string::npos);
  for (const std::string path : {"model.safetensors", "config.json"}) {
    auto stream = f.pull.Fill(f.ToFetch(path));
    REQUIRE(stream.ok());
    REQUIRE(WaitForEnd(**stream) == api::ContentStream::State::kDone);
  }
  auto exported = ExportBundle(f.store, *f.registry, **key, options, nullptr);
  REQUIRE(exported.ok());
  CHECK(exported->blobs == 2);
}

TEST_CASE("A relayed range carries exactly its bytes, and the whole file is filled beside it",
          "[pull]") {
  PullFixture f;
  f.hub.Publish(RepoType::kModel, kRepo, "main", {}, ModelFiles());
  REQUIRE(f.pull.FetchRevision(RepoType::kModel, kRepo, "main").ok());
  auto relay = f.pull.PassRange(f.ToFetch("model.safetensors"), 1000, 5000);
  REQUIRE(relay.ok());
  REQUIRE(WaitForEnd(**relay) == api::ContentStream::State::kDone);
  CHECK(ReadAll(**relay) == kWeights.substr(1000, 5000));
  auto fill = f.pull.Fill(f.ToFetch("model.safetensors"));
  REQUIRE(fill.ok());
  REQUIRE(WaitForEnd(**fill) == api::ContentStream::State::kDone);
  CHECK(f.File("model.safetensors").blob_state == registry::BlobState::kOk);
}

TEST_CASE("A repo gated upstream is not pulled through unless the policy says so", "[pull]") {
  PullFixture f;
  f.hub.Publish(RepoType::kModel, kRepo, "main", {{"gated", "manual"}}, ModelFiles());
  Status refused = f.pull.FetchRevision(RepoType::kModel, kRepo, "main");
  CHECK(refused.code() == StatusCode::kFailedPrecondition);
  CHECK(refused.message().find("gated") != std::string::npos);
  CHECK(f.LocalHead(kRepo).empty());

  PullThroughPolicy gated;
  gated.gated = true;
  PullFixture g(gated);
  g.hub.Publish(RepoType::kModel, kRepo, "main", {{"gated", "manual"}}, ModelFiles());
  REQUIRE(g.pull.FetchRevision(RepoType::kModel, kRepo, "main").ok());
  auto repo = g.registry->FindRepo(RepoType::kModel, kRepo);
  REQUIRE(repo.ok());
  CHECK(repo->gated == "manual");
}

TEST_CASE("A repo of this instance's own is never mixed with the upstream's", "[pull]") {
  PullFixture f;
  // Imported here (no sync record); the upstream has a repo of the same name with another branch.
  registry::NewRevision own;
  own.repo_name = kRepo;
  own.ref = RefName{RefKind::kBranch, "main"};
  own.commit.id = std::string(40, 'a');
  own.commit.tree_id = std::string(40, 'b');
  REQUIRE(f.registry->PublishRevision(own).ok());
  f.hub.Publish(RepoType::kModel, kRepo, "dev", {}, ModelFiles());
  REQUIRE(f.pull.FetchRevision(RepoType::kModel, kRepo, "dev").ok());
  CHECK(f.hub.TotalCalls() == 0);
  CHECK(f.LocalHead(kRepo, "dev").empty());
  CHECK(f.LocalHead(kRepo) == std::string(40, 'a'));
}

TEST_CASE("An unreachable upstream is named, and an unknown repo leaves no record", "[pull]") {
  PullFixture f;
  f.hub.FailNext(Call::kGetRevision, IoError("connection refused"));
  Status failed = f.pull.FetchRevision(RepoType::kModel, "acme/unknown", "main");
  CHECK(failed.code() == StatusCode::kIoError);
  CHECK(failed.message().find("upstream fake-hub") != std::string::npos);
  auto states = f.registry->ListSyncStates();
  REQUIRE(states.ok());
  CHECK(states->empty());
  CHECK(f.pull.FetchRevision(RepoType::kModel, "acme/unknown", "main").code() ==
        StatusCode::kRepoNotFound);
}

TEST_CASE("A branch older than max_age is checked again and follows the upstream", "[pull]") {
  PullThroughPolicy policy;
  policy.max_age = std::chrono::seconds(0);
  PullFixture f(policy);
  f.hub.Publish(RepoType::kModel, kRepo, "main", {}, ModelFiles());
  REQUIRE(f.pull.FetchRevision(RepoType::kModel, kRepo, "main").ok());
  std::string moved = f.hub.Publish(RepoType::kModel, kRepo, "main", {}, ModelFiles("weights v2"));
  CHECK_FALSE(f.pull.Fresh(RepoType::kModel, kRepo, "main"));
  REQUIRE(f.pull.FetchRevision(RepoType::kModel, kRepo, "main").ok());
  CHECK(f.LocalHead(kRepo) == moved);
}

}  // namespace
}  // namespace hubmirror::sync
