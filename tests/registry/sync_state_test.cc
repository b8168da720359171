#include <catch2/catch.hpp>

#include "registry/registry.h"
#include "tests/registry/registry_test_support.h"

namespace hubmirror::registry::testing {
namespace {

TEST_CASE("sync state keeps the last success through failures", "[registry]") {
  TempDir dir;
  auto registry = OpenRegistry(dir);
  SyncState ok{RepoType::kModel,     "Acme/M", "main", "http://up", std::string(40, 'a'),
               std::string(40, 'a'), 1000,     1000,   ""};
  REQUIRE(registry->RecordSync(ok).ok());
  SyncState failed{RepoType::kModel,      "acme/m", "main", "http://up",
                   std::string(40, 'b'),  "",       2000,   0,
                   "upstream unreachable"};
  REQUIRE(registry->RecordSync(failed).ok());
  auto states = registry->ListSyncStates();
  REQUIRE(states->size() == 1);
  const SyncState& state = (*states)[0];
  CHECK(state.upstream_commit == std::string(40, 'b'));
  CHECK(state.local_commit == std::string(40, 'a'));
  CHECK(state.last_success_ms == 1000);
  CHECK(state.last_check_ms == 2000);
  CHECK(state.last_error == "upstream unreachable");
  ok.last_check_ms = ok.last_success_ms = 3000;
  REQUIRE(registry->RecordSync(ok).ok());
  states = registry->ListSyncStates();
  CHECK((*states)[0].last_error.empty());
  CHECK((*states)[0].last_success_ms == 3000);
  CHECK((*states)[0].upstream_commit == std::string(40, 'a'));
}

SyncOutcome Outcome(const std::string& commit) {
  SyncOutcome outcome;
  outcome.revision = Revision("acme/m", commit, "", {File("a", "1", commit)});
  outcome.details = {{"acme/m", "text-generation", "transformers", 42},
                     {"Other/Base", "fill-mask", "", 7}};
  outcome.state = {RepoType::kModel, "acme/m", "main", "http://up", commit, commit, 1000, 1000, ""};
  return outcome;
}

// The details lineage answers give of `model`, or nullopt when none are known.
std::optional<LineageNode> Described(Registry& registry, const std::string& model) {
  auto graph = registry.Lineage(model, LineageDirection::kUp, 0, "");
  REQUIRE(graph.ok());
  REQUIRE_FALSE(graph->nodes.empty());
  if (!graph->nodes.front().described) return std::nullopt;
  return graph->nodes.front();
}

TEST_CASE("a sync outcome records its revision, model details and state together", "[registry]") {
  TempDir dir;
  auto registry = OpenRegistry(dir);
  std::string c1(40, '1');
  SyncOutcome outcome = Outcome(c1);
  auto recorded = registry->RecordSyncOutcome(outcome);
  REQUIRE(recorded.ok());
  CHECK(*recorded);
  auto repo = registry->FindRepo(RepoType::kModel, "acme/m");
  REQUIRE(repo.ok());
  CHECK(registry->ResolveRevision(*repo, "main")->id == c1);
  CHECK(repo->downloads == 42);  // the details apply to the repo the same transaction created
  auto base = Described(*registry, "other/base");
  REQUIRE(base.has_value());
  CHECK(base->id == "Other/Base");
  CHECK(base->downloads == 7);
  auto states = registry->ListSyncStates();
  REQUIRE(states->size() == 1);
  CHECK((*states)[0].local_commit == c1);
  CHECK((*states)[0].last_success_ms == 1000);

  // The same revision again changes nothing but the state, as PublishRevision would report.
  outcome.state.last_check_ms = outcome.state.last_success_ms = 2000;
  recorded = registry->RecordSyncOutcome(outcome);
  REQUIRE(recorded.ok());
  CHECK_FALSE(*recorded);
  CHECK(registry->ListSyncStates()->at(0).last_success_ms == 2000);

  // Without a revision nor details: the state alone, as RecordSync records a failure.
  outcome.revision.reset();
  outcome.details.clear();
  outcome.state.local_commit = "";
  outcome.state.upstream_commit = std::string(40, '2');
  outcome.state.last_check_ms = 3000;
  outcome.state.last_error = "upstream unreachable";
  recorded = registry->RecordSyncOutcome(outcome);
  REQUIRE(recorded.ok());
  CHECK_FALSE(*recorded);
  const SyncState state = registry->ListSyncStates()->at(0);
  CHECK(state.last_error == "upstream unreachable");
  CHECK(state.local_commit == c1);
  CHECK(state.last_success_ms == 2000);
  CHECK(state.upstream_commit == std::string(40, '2'));
  CHECK(registry->ResolveRevision(*repo, "main")->id == c1);
}

TEST_CASE("a sync outcome that fails in any part records none of it", "[registry]") {
  TempDir dir;
  std::string c1(40, '1');
  SECTION("the revision") {
    auto registry = OpenRegistry(dir);
    SyncOutcome outcome = Outcome(c1);
    outcome.revision->blobs.clear();  // entries may not name content without a blob row
    CHECK_FALSE(registry->RecordSyncOutcome(outcome).ok());
    CHECK(registry->ListSyncStates()->empty());
    CHECK_FALSE(Described(*registry, "other/base").has_value());
    CHECK(registry->FindRepo(RepoType::kModel, "acme/m").status().code() ==
          StatusCode::kRepoNotFound);
  }
  SECTION("the state, written last") {
    OpenRegistry(dir);
    ExecSql(dir / "registry.db",
            "CREATE TRIGGER refuse BEFORE INSERT ON sync_state "
            "BEGIN SELECT RAISE(ABORT, 'sync state refused'); END");
    auto registry = OpenRegistry(dir);
    auto recorded = registry->RecordSyncOutcome(Outcome(c1));
    REQUIRE_FALSE(recorded.ok());
    CHECK_THAT(recorded.status().message(), Catch::Contains("sync state refused"));
    CHECK(registry->FindRepo(RepoType::kModel, "acme/m").status().code() ==
          StatusCode::kRepoNotFound);
    CHECK(registry->ListBlobs(std::nullopt, "")->empty());
    CHECK_FALSE(Described(*registry, "other/base").has_value());
    CHECK(registry->ListSyncStates()->empty());
    // Nothing was left open: the next write goes through.
    CHECK(registry->PublishRevision(*Outcome(c1).revision).value());
  }
}

}  // namespace
}  // namespace hubmirror::registry::testing
