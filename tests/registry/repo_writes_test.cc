#include <catch2/catch.hpp>

#include "registry/registry.h"
#include "tests/registry/registry_test_support.h"

namespace hubmirror::registry::testing {
namespace {

const std::string kFirst = "abcdef1" + std::string(33, '1');
const std::string kSecond = "abcdef2" + std::string(33, '2');

// acme/m with two commits whose ids share their first six digits; the head's card names
// acme/base.
std::unique_ptr<Registry> TwoCommits(const TempDir& dir) {
  auto registry = OpenRegistry(dir);
  REQUIRE(
      registry->PublishRevision(Revision("acme/m", kFirst, "", {File("a.txt", "a", kFirst)})).ok());
  NewRevision second = Revision("acme/m", kSecond, kFirst, {File("a.txt", "b", kSecond)});
  second.lineage = {{"acme/m", "acme/base", "finetune", "card", false}};
  REQUIRE(registry->PublishRevision(second).ok());
  return registry;
}

TEST_CASE("a commit is named by a unique prefix of its id where refs are made", "[registry]") {
  TempDir dir;
  auto registry = TwoCommits(dir);
  auto repo = registry->FindRepo(RepoType::kModel, "acme/m");
  REQUIRE(repo.ok());
  CHECK(registry->ResolveRevisionOrPrefix(*repo, "abcdef1")->id == kFirst);
  CHECK(registry->ResolveRevisionOrPrefix(*repo, "ABCDEF2222")->id == kSecond);
  CHECK(registry->ResolveRevisionOrPrefix(*repo, "main")->id == kSecond);
  CHECK(registry->ResolveRevisionOrPrefix(*repo, "abcdef").status().code() ==
        StatusCode::kRevisionNotFound);  // shorter than 7 digits
  CHECK(registry->ResolveRevisionOrPrefix(*repo, "abcdef3").status().code() ==
        StatusCode::kRevisionNotFound);
  // Plain ResolveRevision still wants the whole id.
  CHECK(registry->ResolveRevision(*repo, "abcdef1").status().code() ==
        StatusCode::kRevisionNotFound);
}

TEST_CASE("a prefix shared by two commits is ambiguous", "[registry]") {
  TempDir dir;
  auto registry = OpenRegistry(dir);
  const std::string a = "1234567a" + std::string(32, '0');
  const std::string b = "1234567b" + std::string(32, '0');
  REQUIRE(registry->PublishRevision(Revision("acme/m", a, "", {File("a.txt", "a", a)})).ok());
  REQUIRE(registry->PublishRevision(Revision("acme/m", b, a, {File("a.txt", "b", b)})).ok());
  auto repo = registry->FindRepo(RepoType::kModel, "acme/m");
  REQUIRE(repo.ok());
  CHECK(registry->ResolveRevisionOrPrefix(*repo, "1234567").status().code() ==
        StatusCode::kInvalidArgument);
  CHECK(registry->ResolveRevisionOrPrefix(*repo, "1234567b")->id == b);
}

TEST_CASE("a moved repo keeps its history and its card's lineage under the new id", "[registry]") {
  TempDir dir;
  auto registry = TwoCommits(dir);
  REQUIRE(registry->PublishRevision(Revision("lab/taken", kFirst, "", {File("a.txt", "a", kFirst)}))
              .ok());
  CHECK(registry->MoveRepo(RepoType::kModel, "acme/m", "LAB/Taken").code() ==
        StatusCode::kAlreadyExists);
  CHECK(registry->MoveRepo(RepoType::kModel, "acme/none", "lab/x").code() ==
        StatusCode::kRepoNotFound);
  CHECK(registry->MoveRepo(RepoType::kDataset, "acme/m", "lab/x").code() ==
        StatusCode::kRepoNotFound);

  REQUIRE(registry->MoveRepo(RepoType::kModel, "acme/m", "lab/Moved").ok());
  CHECK(registry->FindRepo(RepoType::kModel, "acme/m").status().code() ==
        StatusCode::kRepoNotFound);
  auto moved = registry->FindRepo(RepoType::kModel, "lab/moved");
  REQUIRE(moved.ok());
  CHECK(moved->name == "lab/Moved");
  CHECK(moved->author == "lab");
  CHECK(registry->ResolveRevision(*moved, "main")->id == kSecond);
  CHECK(registry->ResolveFile(RepoType::kModel, "lab/moved", kFirst, "a.txt")->entry.has_value());
  auto parents = registry->ParentEdges("lab/moved");
  REQUIRE(parents.ok());
  REQUIRE(parents->size() == 1);
  CHECK(parents->front().parent == "acme/base");
  CHECK(registry->ParentEdges("acme/m")->empty());
  // Another case of the same name is the same repo.
  REQUIRE(registry->MoveRepo(RepoType::kModel, "lab/moved", "lab/moved").ok());
  CHECK(registry->FindRepo(RepoType::kModel, "lab/moved")->name == "lab/moved");
}

TEST_CASE("a namespace's bytes count a repo moved in, and shared content once", "[registry]") {
  TempDir dir;
  auto registry = OpenRegistry(dir);
  REQUIRE(registry->PublishRevision(Revision("lab/a", kFirst, "", {File("a.txt", "aaaa", kFirst)}))
              .ok());
  REQUIRE(registry
              ->PublishRevision(
                  Revision("acme/b", kSecond, "",
                           {File("a.txt", "aaaa", kSecond), File("b.txt", "bb", kSecond)}))
              .ok());
  auto b = registry->FindRepo(RepoType::kModel, "acme/b");
  REQUIRE(b.ok());
  CHECK(registry->NamespaceBytes("lab").value() == 4);
  CHECK(registry->NamespaceBytes("lab", b->id).value() == 6);
}

TEST_CASE("local writes are off until a rule turns them on", "[registry]") {
  TempDir dir;
  auto registry = TwoCommits(dir);
  CHECK_FALSE(registry->AllowsLocalWrites(RepoType::kModel, "acme/m").value());
  REQUIRE(registry->SetLocalWrites(RepoType::kModel, "ACME/M", true).ok());
  CHECK(registry->AllowsLocalWrites(RepoType::kModel, "acme/m").value());
  CHECK_FALSE(registry->AllowsLocalWrites(RepoType::kDataset, "acme/m").value());
  CHECK_FALSE(registry->AllowsLocalWrites(RepoType::kModel, "acme/none").value());
  REQUIRE(registry->SetLocalWrites(RepoType::kModel, "acme/m", false).ok());
  CHECK_FALSE(registry->AllowsLocalWrites(RepoType::kModel, "acme/m").value());
}

}  // namespace
}  // namespace hubmirror::registry::testing
