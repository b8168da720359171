#include "sync/local_import.h"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <set>

#include "common/digest.h"
#include "common/lfs_rules.h"
#include "storage/local_blob_store.h"
#include "tests/support/temp_dir.h"

namespace hubmirror::sync {
namespace {

using testing::TempDir;
using testing::WriteFile;

// A data directory with a store and a registry, and a source folder to import from.
struct ImportFixture {
  TempDir dir;
  std::unique_ptr<storage::LocalBlobStore> store =
      std::move(storage::LocalBlobStore::OpenDirectory(dir / "data").value());
  std::unique_ptr<registry::Registry> registry = std::move(
      registry::Registry::Open(dir / "data/registry.db", registry::Registry::Mode::kReadWrite)
          .value());
  std::filesystem::path source = dir / "src";

  Result<ImportReport> Import(const std::string& repo = "acme/model") {
    ImportOptions options;
    options.repo = repo;
    options.source = source;
    return ImportFolder(*store, *registry, options);
  }

  std::vector<registry::Entry> Entries(const std::string& repo = "acme/model") {
    auto found = registry->FindRepo(RepoType::kModel, repo);
    REQUIRE(found.ok());
    auto head = registry->ResolveRevision(*found, "main");
    REQUIRE(head.ok());
    return registry->ListEntries(*found, head->id, "").value();
  }

  size_t StoredBlobCount() {
    size_t count = 0;
    for (auto& entry : std::filesystem::recursive_directory_iterator(dir / "data/blobs")) {
      count += entry.is_regular_file() ? 1 : 0;
    }
    return count;
  }
};

TEST_CASE("LFS classification follows the Hub's patterns and size threshold", "[import]") {
  auto patterns = DefaultLfsPatterns();
  CHECK(IsLfsFile("model.safetensors", 10, patterns));
  CHECK(IsLfsFile("sub/pytorch_model.bin", 10, patterns));
  CHECK(IsLfsFile("q/model-Q4.gguf", 10, patterns));
  CHECK(IsLfsFile("onnx/model.onnx", 10, patterns));
  CHECK(IsLfsFile("x.pt", 10, patterns));
  CHECK(IsLfsFile("saved_model/variables/data", 10, patterns));
  CHECK(IsLfsFile("events.out.tfevents.123", 10, patterns));
  CHECK_FALSE(IsLfsFile("config.json", 10, patterns));
  CHECK_FALSE(IsLfsFile("config.json", 10u << 20, patterns));
  CHECK(IsLfsFile("config.json", (10u << 20) + 1, patterns));
  auto extra =
      ParseLfsPatterns("# comment\n*.json filter=lfs diff=lfs merge=lfs -text\n*.md text\n");
  REQUIRE(extra == std::vector<std::string>{"*.json"});
  CHECK(IsLfsFile("tokenizer.json", 10, extra));
}

TEST_CASE("import stores files, records git oids and card metadata", "[import]") {
  ImportFixture f;
  WriteFile(f.source / "README.md", "---\nbase_model: acme/base\nlicense: mit\n---\n# Model\n");
  WriteFile(f.source / "config.json", "{\"a\": 1}");
  WriteFile(f.source / "weights/model.safetensors", std::string(5000, 'w'));
  WriteFile(f.source / ".git/HEAD", "ref: refs/heads/main\n");  // not content
  auto report = f.Import();
  REQUIRE(report.ok());
  CHECK(report->created_commit);
  CHECK(report->files == 3);
  CHECK(IsSha1Hex(report->commit_id));

  auto entries = f.Entries();
  std::map<std::string, registry::Entry> by_path;
  for (auto& e : entries) by_path[e.path] = e;
  REQUIRE(by_path.count("weights"));
  CHECK(by_path["weights"].is_directory);
  const auto& config = by_path.at("config.json");
  CHECK_FALSE(config.lfs);
  CHECK(config.git_oid == GitObjectId("blob", "{\"a\": 1}"));
  const auto& weights = by_path.at("weights/model.safetensors");
  CHECK(weights.lfs);
  CHECK(weights.sha256 == Sha256Hex(std::string(5000, 'w')));
  CHECK(weights.git_oid == GitObjectId("blob", LfsPointer(weights.sha256, 5000)));
  CHECK(weights.last_commit_id == report->commit_id);
  CHECK(f.store->Contains(weights.sha256).value());
  CHECK_FALSE(by_path.count(".git/HEAD"));

  auto repo = f.registry->FindRepo(RepoType::kModel, "acme/model");
  CHECK_THAT(repo->card_data_json, Catch::Contains("\"base_model\":\"acme/base\""));
  auto tags = f.registry->RepoTags(*repo).value();
  CHECK(std::find(tags.begin(), tags.end(), "base_model:acme/base") != tags.end());
  CHECK(std::find(tags.begin(), tags.end(), "base_model:finetune:acme/base") != tags.end());
  auto parents = f.registry->ParentEdges("acme/model").value();
  REQUIRE(parents.size() == 1);
  CHECK(parents[0].inferred);
}

TEST_CASE("re-importing an unchanged tree creates no commit; a change creates one", "[import]") {
  ImportFixture f;
  WriteFile(f.source / "a.txt", "one");
  WriteFile(f.source / "b/c.txt", "two");
  auto first = f.Import();
  REQUIRE(first.ok());
  auto again = f.Import();
  REQUIRE(again.ok());
  CHECK_FALSE(again->created_commit);
  CHECK(again->commit_id == first->commit_id);

  WriteFile(f.source / "a.txt", "changed");
  auto second = f.Import();
  REQUIRE(second.ok());
  CHECK(second->created_commit);
  CHECK(second->commit_id != first->commit_id);
  auto repo = f.registry->FindRepo(RepoType::kModel, "acme/model");
  auto head = f.registry->ResolveRevision(*repo, "main");
  CHECK(head->parent_id == first->commit_id);
  for (const auto& e : f.Entries()) {
    // Unchanged entries keep the commit that last changed them.
    CHECK(e.last_commit_id == (e.path == "a.txt" ? second->commit_id : first->commit_id));
  }
}

TEST_CASE("identical content is stored once across files and repos", "[import]") {
  ImportFixture f;
  WriteFile(f.source / "one.bin", "same bytes");
  WriteFile(f.source / "two/copy.bin", "same bytes");
  REQUIRE(f.Import("acme/first").ok());
  REQUIRE(f.Import("acme/second").ok());
  CHECK(f.StoredBlobCount() == 1);
}

TEST_CASE("symlinks inside the folder are followed; leaving it is refused", "[import]") {
  ImportFixture f;
  WriteFile(f.source / "real.txt", "content");
  SECTION("inside") {
    REQUIRE(::symlink("real.txt", (f.source / "alias.txt").c_str()) == 0);
    REQUIRE(f.Import().ok());
    CHECK(f.Entries().size() == 2);
  }
  SECTION("outside") {
    WriteFile(f.dir / "secret.txt", "do not import");
    REQUIRE(::symlink((f.dir / "secret.txt").c_str(), (f.source / "leak.txt").c_str()) == 0);
    auto report = f.Import();
    REQUIRE_FALSE(report.ok());
    CHECK(report.status().code() == StatusCode::kInvalidArgument);
    CHECK_THAT(report.status().message(), Catch::Contains("leak.txt"));
    CHECK_THAT(report.status().message(), Catch::Contains("outside"));
    CHECK(f.registry->FindRepo(RepoType::kModel, "acme/model").status().code() ==
          StatusCode::kRepoNotFound);
    CHECK(f.StoredBlobCount() == 0);
  }
  SECTION("directory symlink") {
    std::filesystem::create_directories(f.source / "d");
    REQUIRE(::symlink("d", (f.source / "dlink").c_str()) == 0);
    CHECK_FALSE(f.Import().ok());
  }
}

TEST_CASE("special files and invalid names refuse the whole import", "[import]") {
  ImportFixture f;
  WriteFile(f.source / "fine.txt", "ok");
  SECTION("fifo") {
    REQUIRE(::mkfifo((f.source / "pipe").c_str(), 0600) == 0);
    auto report = f.Import();
    REQUIRE_FALSE(report.ok());
    CHECK_THAT(report.status().message(), Catch::Contains("pipe"));
  }
  SECTION("control character in a name") {
    WriteFile(f.source / "bad\nname.txt", "x");
    auto report = f.Import();
    REQUIRE_FALSE(report.ok());
    CHECK(report.status().code() == StatusCode::kInvalidArgument);
  }
  SECTION("invalid front matter") {
    WriteFile(f.source / "README.md", "---\nkey: [unclosed\n---\n");
    auto report = f.Import();
    REQUIRE_FALSE(report.ok());
    CHECK_THAT(report.status().message(), Catch::Contains("README.md"));
  }
  SECTION("invalid repo id") {
    CHECK(f.Import("../escape").status().code() == StatusCode::kInvalidArgument);
  }
  CHECK(f.registry->FindRepo(RepoType::kModel, "acme/model").status().code() ==
        StatusCode::kRepoNotFound);
  CHECK(f.StoredBlobCount() == 0);
}

TEST_CASE("names with spaces and backslashes are carried literally", "[import]") {
  ImportFixture f;
  WriteFile(f.source / "original\\consolidated.00.pth", "weights");
  WriteFile(f.source / "docs/read me.txt", "hello");
  REQUIRE(f.Import().ok());
  std::set<std::string> paths;
  for (const auto& e : f.Entries()) paths.insert(e.path);
  CHECK(paths.count("original\\consolidated.00.pth"));
  CHECK(paths.count("docs/read me.txt"));
}

}  // namespace
}  // namespace hubmirror::sync
