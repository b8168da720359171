#include <algorithm>
#include <catch2/catch.hpp>

#include "common/digest.h"
#include "registry/registry.h"
#include "tests/registry/registry_test_support.h"

namespace hubmirror::registry::testing {
namespace {

// More than SQLite's default limit on bound parameters (32766): a list bound one parameter per
// item would fail.
constexpr int kManyBlobs = 40000;

TEST_CASE("FindBlobs returns the rows in state ok among any number of digests", "[blobs]") {
  TempDir dir;
  auto registry = OpenRegistry(dir);
  NewRevision rev = Revision("acme/m", std::string(40, '1'), "", {});
  std::vector<std::string> digests;
  for (int i = 0; i < kManyBlobs; ++i) {
    std::string content = "blob " + std::to_string(i);
    digests.push_back(Sha256Hex(content));
    rev.blobs.push_back(BlobRow{digests.back(), content.size(), Sha1Hex(content)});
  }
  REQUIRE(registry->PublishRevision(rev).ok());
  REQUIRE(
      registry
          ->SetBlobStates({{digests[1], BlobState::kCorrupt}, {digests[2], BlobState::kMissing}})
          .ok());

  std::vector<std::string> wanted = digests;
  wanted.push_back(digests[0]);  // asked twice
  wanted.push_back(Sha256Hex("unknown"));
  auto found = registry->FindBlobs(wanted);
  REQUIRE(found.ok());
  CHECK(found->size() == static_cast<size_t>(kManyBlobs - 2));
  REQUIRE(found->contains(digests[0]));
  const BlobRow& row = found->at(digests[0]);
  CHECK(row.sha256 == digests[0]);
  CHECK(row.size == std::string("blob 0").size());
  CHECK(row.git_sha1 == Sha1Hex("blob 0"));
  CHECK(found->contains(digests[kManyBlobs - 1]));
  CHECK_FALSE(found->contains(digests[1]));
  CHECK_FALSE(found->contains(digests[2]));
  CHECK_FALSE(found->contains(Sha256Hex("unknown")));
  CHECK(registry->FindBlobs({})->empty());

  // FindBlob answers the same for one digest.
  REQUIRE(registry->FindBlob(digests[3]).ok());
  CHECK(registry->FindBlob(digests[3])->value().git_sha1 == Sha1Hex("blob 3"));
  CHECK_FALSE(registry->FindBlob(digests[1])->has_value());
  CHECK_FALSE(registry->FindBlob("not a digest")->has_value());
}

// acme/m at one commit with two files, "a" and "b".
struct TwoFiles {
  TwoFiles() { REQUIRE(registry->PublishRevision(Revision("acme/m", commit, "", {a, b})).ok()); }
  TempDir dir;
  std::unique_ptr<Registry> registry = OpenRegistry(dir);
  std::string commit = std::string(40, 'c');
  Entry a = File("a", "alpha", commit);
  Entry b = File("b", "beta", commit);
};

TEST_CASE_METHOD(TwoFiles, "FindBlobsByGitSha1 maps (git blob id, size) pairs to stored content",
                 "[blobs]") {
  std::vector<std::pair<std::string, uint64_t>> wanted = {
      {a.git_oid, 5}, {b.git_oid, 4}, {a.git_oid, 6}, {Sha1Hex("unknown"), 1}, {b.git_oid, 4}};
  for (int i = 0; i < kManyBlobs; ++i) wanted.emplace_back(Sha1Hex(std::to_string(i)), i);
  auto found = registry->FindBlobsByGitSha1(wanted);
  REQUIRE(found.ok());
  CHECK(*found == std::map<std::pair<std::string, uint64_t>, std::string>{
                      {{a.git_oid, 5}, a.sha256}, {{b.git_oid, 4}, b.sha256}});
  CHECK(registry->FindBlobsByGitSha1({})->empty());

  // Only content in state ok counts, for many pairs as for one.
  REQUIRE(registry->SetBlobStates({{b.sha256, BlobState::kCorrupt}}).ok());
  found = registry->FindBlobsByGitSha1(wanted);
  REQUIRE(found.ok());
  CHECK(found->size() == 1);
  CHECK(found->contains({a.git_oid, 5}));
  CHECK(registry->FindBlobByGitSha1(a.git_oid, 5)->value() == a.sha256);
  CHECK_FALSE(registry->FindBlobByGitSha1(a.git_oid, 6)->has_value());
  CHECK_FALSE(registry->FindBlobByGitSha1(b.git_oid, 4)->has_value());
}

TEST_CASE_METHOD(TwoFiles, "blob states set by SetBlobStates show in blobs and entries",
                 "[blobs]") {
  auto repo = registry->FindRepo(RepoType::kModel, "acme/m");
  REQUIRE(repo.ok());
  auto state_of = [&](const std::string& path) {
    auto entry = registry->FindEntry(*repo, commit, path);
    REQUIRE(entry.ok());
    REQUIRE(entry->has_value());
    return (*entry)->blob_state;
  };
  CHECK(state_of("a") == BlobState::kOk);

  REQUIRE(registry
              ->SetBlobStates({{a.sha256, BlobState::kCorrupt},
                               {b.sha256, BlobState::kMissing},
                               {Sha256Hex("no such blob"), BlobState::kMissing}})
              .ok());
  CHECK(state_of("a") == BlobState::kCorrupt);
  CHECK(state_of("b") == BlobState::kMissing);
  CHECK(registry->ResolveFile(RepoType::kModel, "acme/m", "main", "a")->entry->blob_state ==
        BlobState::kCorrupt);
  auto blobs = registry->ListBlobs(RepoType::kModel, "acme/m");
  REQUIRE(blobs.ok());
  REQUIRE(blobs->size() == 2);
  for (const auto& blob : *blobs) {
    CHECK(blob.state == (blob.sha256 == a.sha256 ? BlobState::kCorrupt : BlobState::kMissing));
    CHECK(blob.git_file);
  }

  // Found intact again.
  REQUIRE(registry->SetBlobStates({{a.sha256, BlobState::kOk}, {b.sha256, BlobState::kOk}}).ok());
  CHECK(state_of("a") == BlobState::kOk);
  CHECK(state_of("b") == BlobState::kOk);
  auto all = registry->ListBlobs(std::nullopt, "");
  REQUIRE(all.ok());
  CHECK(all->size() == 2);
  for (const auto& blob : *all) CHECK(blob.state == BlobState::kOk);

  // A file whose blob row is gone (the schema forbids it; another writer without foreign keys
  // may not) has no content to serve.
  ExecSql(dir / "registry.db", "DELETE FROM blobs WHERE sha256 = '" + b.sha256 + "'");
  CHECK(state_of("b") == BlobState::kMissing);
  CHECK(registry->InconsistentFiles(std::nullopt, "")->size() == 1);
}

TEST_CASE("ForEachLiveDigest streams every digest a stored file uses, once", "[blobs]") {
  TempDir dir;
  auto registry = OpenRegistry(dir);
  std::string c1(40, '1');
  std::string c2(40, '2');
  Entry directory;
  directory.path = "sub";
  directory.is_directory = true;
  directory.last_commit_id = c1;
  NewRevision first =
      Revision("acme/m", c1, "", {File("a", "1", c1), File("sub/b", "2", c1, true)});
  first.entries.push_back(directory);
  first.blobs.push_back(BlobRow{Sha256Hex("orphan"), 6, Sha1Hex("orphan")});  // no file uses it
  REQUIRE(registry->PublishRevision(first).ok());
  // An older commit's files stay live; content used by several files or repos comes once.
  REQUIRE(
      registry
          ->PublishRevision(Revision(
              "acme/m", c2, c1, {File("a", "1", c1), File("copy", "1", c2), File("c", "3", c2)}))
          .ok());
  REQUIRE(registry->PublishRevision(Revision("other/m", c1, "", {File("x", "1", c1)})).ok());
  // Whatever its state: what verify found corrupt is fetched again, not collected.
  REQUIRE(registry->SetBlobStates({{Sha256Hex("3"), BlobState::kCorrupt}}).ok());

  std::vector<std::string> live;
  REQUIRE(
      registry->ForEachLiveDigest([&](const std::string& sha256) { live.push_back(sha256); }).ok());
  std::sort(live.begin(), live.end());
  std::vector<std::string> expected = {Sha256Hex("1"), Sha256Hex("2"), Sha256Hex("3")};
  std::sort(expected.begin(), expected.end());
  CHECK(live == expected);
}

}  // namespace
}  // namespace hubmirror::registry::testing
