#include "sync/publisher.h"

#include <catch2/catch.hpp>
#include <thread>

#include "common/digest.h"
#include "tests/fakes/mirror_fixture.h"

namespace hubmirror::sync {
namespace {

using api::CommitOperation;
using api::CommitRequest;
using Kind = CommitOperation::Kind;
using testing::MirrorFixture;

const std::string kRepo = "alice/finetune";

struct PublishFixture : MirrorFixture {
  PublishFixture() : publisher(store, dir / "data/registry.db") {
    REQUIRE(publisher.CreateRepo(RepoType::kModel, kRepo, false, "alice").ok());
  }

  CommitRequest Request(std::vector<CommitOperation> operations) {
    CommitRequest request;
    request.repo = kRepo;
    request.branch = "main";
    request.summary = "Upload files";
    request.author = "alice";
    request.operations = std::move(operations);
    return request;
  }

  RegistryPublisher publisher;
};

CommitOperation Add(const std::string& path, const std::string& content) {
  return {Kind::kAddFile, path, content, "", std::nullopt};
}

CommitOperation Delete(const std::string& path, Kind kind = Kind::kDeleteFile) {
  return {kind, path, "", "", std::nullopt};
}

TEST_CASE("A new repo starts with the Hub's .gitattributes, once", "[publish]") {
  PublishFixture f;
  CHECK(f.LocalPaths(kRepo, "main") == std::vector<std::string>{".gitattributes"});
  CHECK(f.publisher.CreateRepo(RepoType::kModel, kRepo, false, "alice").code() ==
        StatusCode::kAlreadyExists);
  REQUIRE(f.publisher.CreateRepo(RepoType::kModel, "alice/hidden", true, "alice").ok());
  auto hidden = f.registry->FindRepo(RepoType::kModel, "alice/hidden");
  REQUIRE(hidden.ok());
  CHECK(hidden->is_private);
}

TEST_CASE("A commit adds, replaces and deletes files, and reads its card", "[publish]") {
  PublishFixture f;
  std::string readme = "---\nbase_model: acme/base\nlicense: apache-2.0\n---\n# Fine-tune\n";
  auto first = f.publisher.Commit(f.Request({Add("README.md", readme), Add("config.json", "{}"),
                                             Add("notes/a.txt", "a"), Add("notes/b.txt", "b")}));
  REQUIRE(first.ok());
  CHECK(f.LocalHead(kRepo) == *first);
  CHECK(f.LocalPaths(kRepo, "main") == std::vector<std::string>{".gitattributes", "README.md",
                                                                "config.json", "notes/a.txt",
                                                                "notes/b.txt"});
  bool found = false;
  REQUIRE(f.registry
              ->ForEachLineageEdge([&](const registry::LineageEdge& edge) {
                found |= edge.child == kRepo && edge.parent == "acme/base";
              })
              .ok());
  CHECK(found);
  auto entry = f.registry->ResolveFile(RepoType::kModel, kRepo, "main", "config.json");
  REQUIRE(entry.ok());
  CHECK(entry->entry->sha256 == Sha256Hex("{}"));
  CHECK(entry->entry->git_oid == GitObjectId("blob", "{}"));

  // The same content again changes nothing and returns the head.
  auto same = f.publisher.Commit(f.Request({Add("config.json", "{}")}));
  REQUIRE(same.ok());
  CHECK(*same == *first);

  auto second = f.publisher.Commit(
      f.Request({Delete("notes", Kind::kDeleteFolder), Add("config.json", "{\"a\": 1}")}));
  REQUIRE(second.ok());
  CHECK(*second != *first);
  CHECK(f.LocalPaths(kRepo, "main") ==
        std::vector<std::string>{".gitattributes", "README.md", "config.json"});
  // The first revision stays readable by id.
  CHECK(f.LocalPaths(kRepo, *first).size() == 5);
}

TEST_CASE("Commits that cannot be made change nothing", "[publish]") {
  PublishFixture f;
  std::string head = f.LocalHead(kRepo);
  auto stale = f.Request({Add("x.txt", "x")});
  stale.parent_commit = std::string(40, '0');
  CHECK(f.publisher.Commit(stale).status().code() == StatusCode::kFailedPrecondition);
  auto missing = f.publisher.Commit(f.Request({Delete("nothing.txt")}));
  CHECK(missing.status().code() == StatusCode::kEntryNotFound);
  CHECK_THAT(missing.status().message(), Catch::Contains("A file with this name doesn't exist"));
  auto clash = f.publisher.Commit(f.Request({Add("a", "file"), Add("a/b", "nested")}));
  CHECK(clash.status().code() == StatusCode::kInvalidArgument);
  CommitOperation lfs{Kind::kAddLfsFile, "model.safetensors", "", Sha256Hex("never uploaded"),
                      std::nullopt};
  auto absent = f.publisher.Commit(f.Request({lfs}));
  CHECK(absent.status().code() == StatusCode::kCorrupt);
  auto other_branch = f.Request({Add("x.txt", "x")});
  other_branch.branch = "dev";
  CHECK(f.publisher.Commit(other_branch).status().code() == StatusCode::kRevisionNotFound);
  CHECK(f.LocalHead(kRepo) == head);
  // A parent given as a prefix of the head is the head.
  auto current = f.Request({Add("x.txt", "x")});
  current.parent_commit = head.substr(0, 7);
  CHECK(f.publisher.Commit(current).ok());
}

TEST_CASE("An LFS file names stored content by digest and gets its pointer's id", "[publish]") {
  PublishFixture f;
  std::string weights(5000, 'w');
  auto writer = f.store.NewWriter({weights.size(), "", ""});
  REQUIRE(writer.ok());
  REQUIRE((*writer)->Append(weights.data(), weights.size()).ok());
  REQUIRE((*writer)->Commit().ok());
  CommitOperation lfs{Kind::kAddLfsFile, "model.safetensors", "", Sha256Hex(weights), 5000};
  CommitOperation wrong_size = lfs;
  wrong_size.size = 4999;
  CHECK(f.publisher.Commit(f.Request({wrong_size})).status().code() == StatusCode::kCorrupt);
  REQUIRE(f.publisher.Commit(f.Request({lfs})).ok());
  auto entry = f.registry->ResolveFile(RepoType::kModel, kRepo, "main", "model.safetensors");
  REQUIRE(entry.ok());
  CHECK(entry->entry->lfs);
  CHECK(entry->entry->size == 5000);
  CHECK(entry->entry->git_oid == GitObjectId("blob", LfsPointer(Sha256Hex(weights), 5000)));
}

TEST_CASE("Concurrent commits to one branch keep both writers' work", "[publish]") {
  PublishFixture f;
  // A second publisher is another process's: its own lock and connection.
  RegistryPublisher other(f.store, f.dir / "data/registry.db");
  std::vector<std::thread> writers;
  for (int i = 0; i < 8; ++i) {
    writers.emplace_back([&, i] {
      RegistryPublisher& publisher = i % 2 == 0 ? f.publisher : other;
      std::string name = "file-" + std::to_string(i) + ".txt";
      CHECK(publisher.Commit(f.Request({Add(name, name)})).ok());
    });
  }
  for (auto& writer : writers) writer.join();
  CHECK(f.LocalPaths(kRepo, "main").size() == 9);
}

}  // namespace
}  // namespace hubmirror::sync
