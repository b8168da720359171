#include "sync/storage_budget.h"

#include <catch2/catch.hpp>
#include <condition_variable>
#include <thread>

#include "common/digest.h"
#include "sync/pull_through.h"
#include "tests/fakes/mirror_fixture.h"

namespace hubmirror::sync {
namespace {

using testing::FakeHub;
using testing::MirrorFixture;

std::map<std::string, FakeHub::File> Files(const std::string& weights) {
  return {{"model.safetensors", {weights, true}}};
}

// A data directory with two pulled-through repos (old and recent, 1000 bytes each) and a synced
// one (1000 bytes), every file stored.
struct BudgetFixture : MirrorFixture {
  BudgetFixture()
      : pull({}, shared_hub, nullptr, nullptr, store, dir / "data/registry.db", dir / "data/tmp") {
    for (const std::string repo : {"acme/old", "acme/recent"}) {
      hub.Publish(RepoType::kModel, repo, "main", {}, Files(std::string(1000, repo.back())));
      REQUIRE(pull.FetchRevision(RepoType::kModel, repo, "main").ok());
      Fill(repo);
    }
    hub.Publish(RepoType::kModel, "acme/synced", "main", {}, Files(std::string(1000, 's')));
    REQUIRE(Sync("acme/synced").ok());
    REQUIRE(registry
                ->RecordRepoUses(
                    {{RepoType::kModel, "acme/old", 1000}, {RepoType::kModel, "acme/recent", 2000}})
                .ok());
  }

  void Fill(const std::string& repo) {
    auto resolved = registry->ResolveFile(RepoType::kModel, repo, "main", "model.safetensors");
    REQUIRE(resolved.ok());
    const registry::Entry& e = *resolved->entry;
    auto stream = pull.Fill(
        {RepoType::kModel, repo, resolved->commit_id, e.path, e.size, true, e.sha256, e.git_oid});
    REQUIRE(stream.ok());
    while ((*stream)->Poll(UINT64_MAX, {}).state == api::ContentStream::State::kRunning) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    REQUIRE((*stream)->Poll(UINT64_MAX, {}).state == api::ContentStream::State::kDone);
  }

  bool Stored(char fill) {
    return local_store->Contains(Sha256Hex(std::string(1000, fill))).value();
  }

  UpstreamPullThrough pull;
};

TEST_CASE("The budget evicts the least recently used pulled-through repo first", "[budget]") {
  BudgetFixture f;
  auto within = EnforceStorageBudget(f.store, *f.registry, 3000);
  REQUIRE(within.ok());
  CHECK(within->blobs == 0);

  auto report = EnforceStorageBudget(f.store, *f.registry, 2500);
  REQUIRE(report.ok());
  CHECK(report->repos == std::vector<std::string>{"model acme/old"});
  CHECK(report->bytes == 1000);
  CHECK(report->stored_bytes == 2000);
  CHECK_FALSE(f.Stored('d'));
  CHECK(f.Stored('t'));
  CHECK(f.Stored('s'));
  // Evicted content is absent again: pull-through fetches it when asked.
  auto resolved =
      f.registry->ResolveFile(RepoType::kModel, "acme/old", "main", "model.safetensors");
  REQUIRE(resolved.ok());
  CHECK(resolved->entry->blob_state == registry::BlobState::kAbsent);
  f.Fill("acme/old");
  CHECK(f.Stored('d'));
}

TEST_CASE("Synced and pinned content is never evicted", "[budget]") {
  BudgetFixture f;
  REQUIRE(f.registry->SetPinned(RepoType::kModel, "acme/old", true).ok());
  auto report = EnforceStorageBudget(f.store, *f.registry, 500);
  REQUIRE(report.ok());
  CHECK(report->repos == std::vector<std::string>{"model acme/recent"});
  CHECK(report->stored_bytes == 2000);  // over the budget: the rest is kept content
  CHECK(f.Stored('d'));
  CHECK(f.Stored('s'));
  auto kept = f.registry->KeptBytes();
  REQUIRE(kept.ok());
  CHECK(*kept == 2000);
}

TEST_CASE("A sync that would take kept content over the budget is refused before downloading",
          "[budget]") {
  BudgetFixture f;
  f.hub.Publish(RepoType::kModel, "acme/big", "main", {}, Files(std::string(5000, 'b')));
  MirrorSpec spec;
  spec.repo = "acme/big";
  spec.max_store_bytes = 4000;
  f.hub.ResetCounts();
  auto refused = MirrorRepo(f.hub, f.store, *f.registry, spec);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == StatusCode::kFailedPrecondition);
  CHECK(refused.status().message().find("storage budget") != std::string::npos);
  CHECK(f.hub.Calls(FakeHub::Call::kDownload) == 0);
  auto state = f.registry->FindSyncState(RepoType::kModel, "acme/big", "main");
  REQUIRE(state.ok());
  REQUIRE(state->has_value());
  CHECK((*state)->last_error.find("storage budget") != std::string::npos);
  spec.max_store_bytes = 10000;
  CHECK(MirrorRepo(f.hub, f.store, *f.registry, spec).ok());
}

}  // namespace
}  // namespace hubmirror::sync
