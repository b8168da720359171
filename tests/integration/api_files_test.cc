// File downloads over /resolve and /raw (hub-protocol §2.7): exact bytes, the Hub's headers,
// names decoded per segment, revisions, byte ranges, conditional requests, datasets.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/digest.h"
#include "tests/integration/api_fixture.h"

namespace hubmirror::testing {
namespace {

using nlohmann::json;

// Headers every successful /resolve or /raw answer carries (hub-protocol §2.7).
void CheckFileHeaders(const HttpResponse& response, const FileFacts& facts, bool raw,
                      const std::string& commit) {
  CHECK(response.HeaderOr("X-Repo-Commit") == commit);
  CHECK(response.HeaderValues("ETag").size() == 1);
  CHECK(response.HeaderOr("ETag") == (raw ? facts.raw_etag : facts.resolve_etag));
  if (facts.lfs && !raw) {
    CHECK(response.HeaderOr("X-Linked-Etag") == "\"" + facts.sha256 + "\"");
    CHECK(response.HeaderOr("X-Linked-Size") == std::to_string(facts.content.size()));
  } else {
    CHECK_FALSE(response.Has("X-Linked-Etag"));
    CHECK_FALSE(response.Has("X-Linked-Size"));
  }
  CHECK(response.HeaderOr("Accept-Ranges") == "bytes");
  CHECK_FALSE(response.Has("Content-Encoding"));
  CHECK_FALSE(response.Has("X-Xet-Hash"));
  CHECK_FALSE(response.Has("Transfer-Encoding"));
  CHECK(response.bytes_after_message == 0);
  CheckCors(response);
}

// ---------------------------------------------------------------------------------------------
// /resolve and /raw
// ---------------------------------------------------------------------------------------------

TEST_CASE("resolve: GET and HEAD serve the exact bytes with the Hub's headers", "[resolve]") {
  World& world = Shared();
  for (const auto& [path, content] : world.model_v2) {
    FileFacts facts = Facts(path, content);
    std::string target = std::string("/") + kModel + "/resolve/main/" + UrlPath(path);
    INFO("GET " << target);
    // Clients offer compression; /resolve must never use it (hub-protocol §2.7).
    auto get = world.http().Get(target, {{"Accept-Encoding", "gzip, deflate, br, zstd"}});
    CHECK(get.status == 200);
    CHECK(get.body.size() == content.size());
    CHECK(get.body == content);
    CHECK(get.HeaderOr("Content-Length") == std::to_string(content.size()));
    CHECK_FALSE(get.Has("Content-Range"));
    CheckFileHeaders(get, facts, false, world.commit2);

    auto head = world.http().Head(target);
    CHECK(head.status == 200);
    CHECK(head.body.empty());
    CHECK(head.HeaderOr("Content-Length") == std::to_string(content.size()));
    CheckFileHeaders(head, facts, false, world.commit2);
    CHECK(head.HeaderOr("Content-Type") == get.HeaderOr("Content-Type"));
  }
}

TEST_CASE("resolve: file names are decoded per segment and kept literal", "[resolve]") {
  World& world = Shared();
  const std::string base = std::string("/") + kModel + "/resolve/main/";
  struct Case {
    std::string target;
    std::string path;
  };
  std::vector<Case> cases = {
      {"nested/deep/read%20me.txt", "nested/deep/read me.txt"},
      {"nested%2Fdeep%2Fread%20me.txt", "nested/deep/read me.txt"},
      {"plus+sign.txt", "plus+sign.txt"},
      {"plus%2Bsign.txt", "plus+sign.txt"},
      {"original%5Cconsolidated.00.pth", "original\\consolidated.00.pth"},
      {"unicode/caf%C3%A9.txt", "unicode/caf\xc3\xa9.txt"},
      {"unicode/caf%c3%a9.txt", "unicode/caf\xc3\xa9.txt"},
      {"config.json?download=true&noContentDisposition=1", "config.json"},
  };
  for (const auto& c : cases) {
    INFO("GET " << base + c.target);
    auto response = world.http().Get(base + c.target);
    CHECK(response.status == 200);
    CHECK(response.body == world.model_v2.at(c.path));
    CHECK(response.HeaderOr("ETag") == Facts(c.path, world.model_v2.at(c.path)).resolve_etag);
  }
  auto spaced = world.http().Get(base + "nested/deep/read%20me.txt");
  CHECK(spaced.HeaderOr("Content-Disposition").find("filename*=UTF-8''read%20me.txt") !=
        std::string::npos);
  CHECK(StartsWith(world.http().Get(base + "config.json").HeaderOr("Content-Type"),
                   "application/json"));
  // A space must not be read as a plus, nor a plus as a space.
  CHECK(world.http().Get(base + "plus%20sign.txt").status == 404);
}

TEST_CASE("raw: the git blob, which is the exact LFS pointer for LFS files", "[raw]") {
  World& world = Shared();
  for (const auto& [path, content] : world.model_v2) {
    FileFacts facts = Facts(path, content);
    std::string target = std::string("/") + kModel + "/raw/main/" + UrlPath(path);
    INFO("GET " << target);
    auto get = world.http().Get(target);
    CHECK(get.status == 200);
    CHECK(get.body == facts.raw_body);
    CHECK(get.HeaderOr("Content-Length") == std::to_string(facts.raw_body.size()));
    CheckFileHeaders(get, facts, true, world.commit2);

    auto head = world.http().Head(target);
    CHECK(head.status == 200);
    CHECK(head.body.empty());
    CHECK(head.HeaderOr("Content-Length") == std::to_string(facts.raw_body.size()));
    CheckFileHeaders(head, facts, true, world.commit2);
  }
  // The pointer, spelled out (hub-protocol §6).
  const std::string& weights = world.model_v2.at("model.safetensors");
  auto pointer = world.http().Get(std::string("/") + kModel + "/raw/main/model.safetensors");
  CHECK(pointer.body == "version https://git-lfs.github.com/spec/v1\noid sha256:" +
                            Sha256Hex(weights) + "\nsize " + std::to_string(kBigLfsSize) + "\n");
  CHECK(pointer.HeaderOr("ETag") == "\"" + GitObjectId("blob", pointer.body) + "\"");
}

TEST_CASE("digest helpers used for expectations match git", "[resolve]") {
  // huggingface_hub's own check value (hub-protocol §6).
  CHECK(GitObjectId("blob", "Hello, World!") == "b45ef6fec89518d314f546fd6c3025367b721684");
}

TEST_CASE("resolve: revisions by branch, commit id, old commit and HEAD", "[resolve]") {
  World& world = Shared();
  const std::string repo = std::string("/") + kModel;
  struct Case {
    std::string revision;
    std::string commit;
    int version;
  };
  std::vector<Case> cases = {
      {"main", world.commit2, 2},
      {"HEAD", world.commit2, 2},
      {world.commit2, world.commit2, 2},
      {world.commit1, world.commit1, 1},
      {"dev", world.dev_commit, 1},
      {"ma%69n", world.commit2, 2},
      {world.dev_commit, world.dev_commit, 1},
  };
  for (const auto& c : cases) {
    const Files& files = c.version == 1 ? world.model_v1 : world.model_v2;
    for (const char* action : {"resolve", "raw"}) {
      std::string target = repo + "/" + action + "/" + c.revision + "/tokenizer.json";
      INFO("GET " << target);
      auto response = world.http().Get(target);
      CHECK(response.status == 200);
      CHECK(response.body == files.at("tokenizer.json"));
      CHECK(response.HeaderOr("X-Repo-Commit") == c.commit);
    }
  }
  // The first commit stays readable after the second moved the branch.
  auto old_file = world.http().Get(repo + "/resolve/" + world.commit1 + "/removed.txt");
  CHECK(old_file.status == 200);
  CHECK(old_file.body == world.model_v1.at("removed.txt"));
  auto old_lfs = world.http().Get(repo + "/resolve/" + world.commit1 + "/model.safetensors");
  CHECK(old_lfs.status == 200);
  CHECK(old_lfs.HeaderOr("X-Repo-Commit") == world.commit1);
  CHECK(old_lfs.HeaderOr("ETag") ==
        "\"" + Sha256Hex(world.model_v1.at("model.safetensors")) + "\"");
  // Repo ids match case-insensitively, as on the Hub.
  CHECK(world.http().Get("/ACME/Model/resolve/main/config.json").status == 200);
}

TEST_CASE("resolve: byte ranges", "[resolve][range]") {
  World& world = Shared();
  struct Target {
    std::string target;
    std::string body;  // what a full GET returns
  };
  const std::string repo = std::string("/") + kModel;
  std::vector<Target> targets = {
      {repo + "/resolve/main/model.safetensors", world.model_v2.at("model.safetensors")},
      {repo + "/resolve/main/config.json", world.model_v2.at("config.json")},
      {repo + "/raw/main/model.safetensors",
       Facts("model.safetensors", world.model_v2.at("model.safetensors")).pointer},
      {"/datasets/acme/data/resolve/main/data/test.parquet", world.dataset.at("data/test.parquet")},
  };
  for (const auto& t : targets) {
    const uint64_t size = t.body.size();
    const std::string total = "/" + std::to_string(size);
    struct Range {
      std::string header;
      uint64_t first;
      uint64_t last;
    };
    std::vector<Range> partial = {
        {"bytes=0-0", 0, 0},
        {"bytes=10-19", 10, 19},
        {"bytes=" + std::to_string(size - 9) + "-", size - 9, size - 1},
        {"bytes=-5", size - 5, size - 1},
        {"bytes=0-", 0, size - 1},
        {"bytes=3-" + std::to_string(size + 1000), 3, size - 1},
        {"bytes=-" + std::to_string(size + 10), 0, size - 1},
        {"bytes=" + std::to_string(size - 1) + "-" + std::to_string(size - 1), size - 1, size - 1},
    };
    if (size > 200000) partial.push_back({"bytes=1000-70999", 1000, 70999});  // a sendfile slice
    if (size > 200000) partial.push_back({"bytes=100000-100009", 100000, 100009});  // inline slice
    for (const auto& range : partial) {
      for (const char* method : {"GET", "HEAD"}) {
        INFO(method << " " << t.target << " Range: " << range.header);
        auto response = world.http().Send({method, t.target, {{"Range", range.header}}, ""});
        const uint64_t length = range.last - range.first + 1;
        CHECK(response.status == 206);
        CHECK(response.HeaderOr("Content-Range") ==
              "bytes " + std::to_string(range.first) + "-" + std::to_string(range.last) + total);
        CHECK(response.HeaderOr("Content-Length") == std::to_string(length));
        CHECK(response.body ==
              (std::string(method) == "GET" ? t.body.substr(range.first, length) : ""));
        CHECK(response.bytes_after_message == 0);
        CHECK(response.Has("ETag"));
        CHECK(response.Has("X-Repo-Commit"));
        CHECK(response.HeaderOr("Accept-Ranges") == "bytes");
        CheckCors(response);
      }
    }
    for (const std::string& header :
         {"bytes=" + std::to_string(size) + "-",
          "bytes=" + std::to_string(size) + "-" + std::to_string(size + 10),
          std::string("bytes=-0")}) {
      INFO("GET " << t.target << " Range: " << header);
      auto response = world.http().Get(t.target, {{"Range", header}});
      CHECK(response.status == 416);
      CHECK(response.HeaderOr("Content-Range") == "bytes */" + std::to_string(size));
      CHECK(response.HeaderOr("X-Error-Code") == "RangeNotSatisfiable");
      CHECK(response.Has("X-Repo-Commit"));
      CheckCors(response);
    }
    for (const char* header :
         {"bytes=abc", "bytes=5-2", "items=0-1", "bytes=0-1,3-4", "bytes=", "bytes=-",
          "bytes=1-2-3", "bytes=x-5", "bytes 0-1", "bytes=18446744073709551616-"}) {
      INFO("GET " << t.target << " Range: " << header);
      auto response = world.http().Get(t.target, {{"Range", header}});
      CHECK(response.status == 400);
      CHECK(response.HeaderOr("X-Error-Code") == "BadRequest");
    }
  }
  // A zero-byte file answers bytes=0-0 with a complete, empty 200 (hub-protocol §2.7).
  auto empty = world.http().Get(repo + "/resolve/main/empty.txt", {{"Range", "bytes=0-0"}});
  CHECK(empty.status == 200);
  CHECK(empty.HeaderOr("Content-Length") == "0");
  CHECK(empty.body.empty());
  CHECK(empty.HeaderOr("ETag") == Facts("empty.txt", "").resolve_etag);
}

TEST_CASE("resolve: If-None-Match with the ETag gives 304", "[resolve][conditional]") {
  World& world = Shared();
  const std::string repo = std::string("/") + kModel;
  struct Case {
    std::string target;
    FileFacts facts;
    bool raw;
  };
  std::vector<Case> cases = {
      {repo + "/resolve/main/model.safetensors",
       Facts("model.safetensors", world.model_v2.at("model.safetensors")), false},
      {repo + "/resolve/main/config.json", Facts("config.json", world.model_v2.at("config.json")),
       false},
      {repo + "/raw/main/model.safetensors",
       Facts("model.safetensors", world.model_v2.at("model.safetensors")), true},
  };
  for (const auto& c : cases) {
    const std::string etag = c.raw ? c.facts.raw_etag : c.facts.resolve_etag;
    for (const std::string& header : {etag, "W/" + etag, "\"nope\", " + etag, std::string("*")}) {
      for (const char* method : {"GET", "HEAD"}) {
        INFO(method << " " << c.target << " If-None-Match: " << header);
        auto response = world.http().Send({method, c.target, {{"If-None-Match", header}}, ""});
        CHECK(response.status == 304);
        CHECK(response.body.empty());
        CHECK(response.bytes_after_message == 0);
        CHECK(response.HeaderOr("ETag") == etag);
        CHECK(response.HeaderOr("X-Repo-Commit") == world.commit2);
        CheckCors(response);
      }
    }
    auto changed = world.http().Get(c.target, {{"If-None-Match", "\"0000\""}});
    CHECK(changed.status == 200);
    CHECK(changed.body == (c.raw ? c.facts.raw_body : c.facts.content));
  }
}

TEST_CASE("resolve: a 304 does not advertise a Content-Length other than the file's (RFC 9110 8.6)",
          "[resolve][conditional][rfc]") {
  World& world = Shared();
  const std::string target = std::string("/") + kModel + "/resolve/main/config.json";
  const std::string& content = world.model_v2.at("config.json");
  for (const char* method : {"GET", "HEAD"}) {
    INFO(method);
    auto response = world.http().Send(
        {method, target, {{"If-None-Match", Facts("config.json", content).resolve_etag}}, ""});
    REQUIRE(response.status == 304);
    auto length = response.Header("Content-Length");
    if (length) CHECK(*length == std::to_string(content.size()));
  }
}

TEST_CASE("resolve and raw under the datasets/ prefix", "[resolve][dataset]") {
  World& world = Shared();
  for (const auto& [path, content] : world.dataset) {
    FileFacts facts = Facts(path, content);
    for (bool raw : {false, true}) {
      std::string target = std::string("/datasets/acme/data/") + (raw ? "raw" : "resolve") +
                           "/main/" + UrlPath(path);
      INFO("GET/HEAD " << target);
      auto get = world.http().Get(target);
      CHECK(get.status == 200);
      CHECK(get.body == (raw ? facts.raw_body : content));
      CheckFileHeaders(get, facts, raw, world.dataset_commit);
      auto head = world.http().Head(target);
      CHECK(head.status == 200);
      CHECK(head.body.empty());
      CHECK(head.HeaderOr("Content-Length") == get.HeaderOr("Content-Length"));
      CheckFileHeaders(head, facts, raw, world.dataset_commit);
    }
  }
  CHECK(world.http().Get("/datasets/acme/data/resolve/HEAD/data/train.csv").status == 200);
  // Types are separate namespaces.
  CheckError(world.http().Get("/acme/data/resolve/main/data/train.csv"), 404, "RepoNotFound",
             false);
  CheckError(world.http().Get("/datasets/acme/model/resolve/main/config.json"), 404, "RepoNotFound",
             false);
}

}  // namespace
}  // namespace hubmirror::testing
