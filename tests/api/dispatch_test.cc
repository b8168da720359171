#include "api/dispatch.h"

#include <unistd.h>

#include <catch2/catch.hpp>

#include "common/digest.h"
#include "sync/local_import.h"
#include "tests/fakes/mirror_fixture.h"

namespace hubmirror::api {
namespace {

using nlohmann::json;
using testing::WriteFile;

// Over VerifiedBlobCache::kMaxBlobBytes: served from the file, not from memory.
constexpr size_t kLargeBytes = 100 * 1024;

// A data directory with one imported model, and the handlers called as functions over it.
struct HandlerFixture : testing::MirrorFixture {
  HandlerFixture() {
    WriteFile(dir / "src/config.json", "{\"model_type\": \"llama\"}");
    WriteFile(dir / "src/README.md", "---\nbase_model: acme/base\n---\n# Model\n");
    WriteFile(dir / "src/weights/model.safetensors", std::string(kLargeBytes, 'w'));
    sync::ImportOptions options;
    options.repo = "acme/model";
    options.source = dir / "src";
    auto imported = sync::ImportFolder(*local_store, *registry, options);
    REQUIRE(imported.ok());
    commit = imported->commit_id;
  }

  Response Call(http::verb method, const std::string& target, const std::string& body = "") {
    Request request(method, target, 11);
    request.set(http::field::host, "mirror.test:8080");
    if (!body.empty()) {
      request.set(http::field::content_type, "application/json");
      request.body() = body;
      request.prepare_payload();
    }
    DispatchEnvironment environment{
        registry.get(), *local_store, 16u << 20, *key, "http://mirror.test:8080", &verified_blobs};
    return Dispatch(request, environment);
  }
  Response Get(const std::string& target) { return Call(http::verb::get, target); }

  std::shared_ptr<const SigningKey> key =
      std::move(SigningKey::LoadOrCreate(dir / "key.pem").value());
  std::string commit;
  VerifiedBlobCache verified_blobs;
};

std::string Header(const Response& response, const std::string& name) {
  for (const auto& [key, value] : response.headers) {
    if (key == name) return value;
  }
  return "";
}

std::string FileBody(const Response& response) {
  REQUIRE(response.file.has_value());
  std::string bytes(response.file_length, '\0');
  REQUIRE(::pread(response.file->fd(), bytes.data(), bytes.size(),
                  static_cast<off_t>(response.file_offset)) == static_cast<ssize_t>(bytes.size()));
  return bytes;
}

TEST_CASE("Repo info, tree, refs and commits answer in the Hub's shape", "[handlers]") {
  HandlerFixture f;
  Response info = f.Get("/api/models/acme/model");
  REQUIRE(info.status == http::status::ok);
  json body = json::parse(info.body);
  CHECK(body["id"] == "acme/model");
  CHECK(body["sha"] == f.commit);
  CHECK(body["siblings"].size() == 3);

  Response tree = f.Get("/api/models/acme/model/tree/main?recursive=true");
  REQUIRE(tree.status == http::status::ok);
  json entries = json::parse(tree.body);
  REQUIRE(entries.size() == 4);  // three files and the weights directory
  for (const auto& entry : entries) {
    if (entry["path"] == "weights/model.safetensors") {
      CHECK(entry["lfs"]["oid"] == Sha256Hex(std::string(kLargeBytes, 'w')));
    }
  }

  Response refs = f.Get("/api/models/acme/model/refs");
  REQUIRE(refs.status == http::status::ok);
  CHECK(json::parse(refs.body)["branches"][0]["targetCommit"] == f.commit);

  Response commits = f.Get("/api/models/acme/model/commits/main");
  REQUIRE(commits.status == http::status::ok);
  CHECK(json::parse(commits.body)[0]["id"] == f.commit);
  CHECK(Header(commits, "X-Total-Count") == "1");

  Response paths = f.Call(http::verb::post, "/api/models/acme/model/paths-info/main",
                          R"({"paths": ["config.json", "absent"], "expand": true})");
  REQUIRE(paths.status == http::status::ok);
  CHECK(json::parse(paths.body).size() == 1);
}

TEST_CASE("Downloads come from the store with the Hub's headers", "[handlers]") {
  HandlerFixture f;
  // Small files are read, verified and sent from memory; larger ones with sendfile.
  Response file = f.Get("/acme/model/resolve/main/config.json");
  REQUIRE(file.status == http::status::ok);
  CHECK_FALSE(file.file.has_value());
  CHECK(file.body == "{\"model_type\": \"llama\"}");
  CHECK(Header(file, "X-Repo-Commit") == f.commit);
  CHECK(Header(file, "ETag") == "\"" + GitObjectId("blob", "{\"model_type\": \"llama\"}") + "\"");

  Response lfs = f.Get("/acme/model/resolve/" + f.commit + "/weights/model.safetensors");
  REQUIRE(lfs.status == http::status::ok);
  CHECK(FileBody(lfs) == std::string(kLargeBytes, 'w'));
  CHECK(lfs.verify_sha256 == Sha256Hex(std::string(kLargeBytes, 'w')));
  CHECK(Header(lfs, "X-Linked-Etag") == "\"" + Sha256Hex(std::string(kLargeBytes, 'w')) + "\"");
  CHECK(Header(lfs, "X-Linked-Size") == std::to_string(kLargeBytes));
}

TEST_CASE("A small file whose bytes changed on disk is refused and quarantined", "[handlers]") {
  HandlerFixture f;
  std::string content = "{\"model_type\": \"llama\"}";
  auto path = f.local_store->BlobPath(Sha256Hex(content));
  std::filesystem::permissions(path, std::filesystem::perms::owner_write,
                               std::filesystem::perm_options::add);
  WriteFile(path, "{\"model_type\": \"llamb\"}");
  Response refused = f.Get("/acme/model/resolve/main/config.json");
  CHECK(refused.status == http::status::service_unavailable);
  CHECK(Header(refused, "X-Error-Code") == "BlobUnavailable");
  CHECK(refused.body.find("llamb") == std::string::npos);
  CHECK_FALSE(std::filesystem::exists(path));
  CHECK_FALSE(std::filesystem::is_empty(f.dir / "data/quarantine"));
}

TEST_CASE("Verified small blobs are kept while their fingerprint holds", "[handlers]") {
  VerifiedBlobCache cache;
  const std::string a = Sha256Hex("a"), b = Sha256Hex("b");
  cache.Insert(a, "v1", "bytes of a");
  REQUIRE(cache.Find(a, "v1") != nullptr);
  CHECK(*cache.Find(a, "v1") == "bytes of a");
  CHECK(cache.Find(a, "v2") == nullptr);  // the stored copy changed since
  CHECK(cache.Find(a, "") == nullptr);
  CHECK(cache.Find(b, "v1") == nullptr);
  cache.Insert(b, "", "too recent to tell apart");
  CHECK(cache.Find(b, "") == nullptr);
  cache.Insert(b, "v1", std::string(VerifiedBlobCache::kMaxBlobBytes + 1, 'x'));
  CHECK(cache.Find(b, "v1") == nullptr);
  // Past the budget it starts over, and never holds more.
  std::string blob(VerifiedBlobCache::kMaxBlobBytes, 'y');
  for (uint64_t i = 0; i * blob.size() <= VerifiedBlobCache::kBudgetBytes; ++i) {
    cache.Insert(Sha256Hex(std::to_string(i)), "v1", blob);
  }
  CHECK(cache.Find(a, "v1") == nullptr);
  CHECK(cache.Find(Sha256Hex("0"), "v1") == nullptr);
}

TEST_CASE("Errors carry the Hub's status and X-Error-Code", "[handlers]") {
  HandlerFixture f;
  struct Case {
    http::verb method;
    std::string target;
    http::status status;
    std::string code;
  };
  std::vector<Case> cases = {
      {http::verb::get, "/api/models/acme/absent", http::status::not_found, "RepoNotFound"},
      {http::verb::get, "/acme/model/resolve/nope/config.json", http::status::not_found,
       "RevisionNotFound"},
      {http::verb::get, "/acme/model/resolve/main/absent.txt", http::status::not_found,
       "EntryNotFound"},
      {http::verb::get, "/acme/model/resolve/main/../etc/passwd", http::status::bad_request, ""},
      {http::verb::get, "/api/models?expand=nonsense", http::status::bad_request, ""},
      {http::verb::delete_, "/api/models/acme/model", http::status::method_not_allowed, ""},
  };
  for (const auto& c : cases) {
    INFO(c.target);
    Response response = f.Call(c.method, c.target);
    CHECK(response.status == c.status);
    CHECK_FALSE(Header(response, "X-Error-Message").empty());
    if (!c.code.empty()) CHECK(Header(response, "X-Error-Code") == c.code);
  }
  CHECK(Header(f.Call(http::verb::delete_, "/api/models/acme/model"), "Allow") ==
        "GET, HEAD, OPTIONS");
}

TEST_CASE("Native endpoints: lineage, mirror status, integrity", "[handlers]") {
  HandlerFixture f;
  Response lineage = f.Get("/api/lineage/models/acme/model?direction=up");
  REQUIRE(lineage.status == http::status::ok);
  CHECK(lineage.body.find("acme/base") != std::string::npos);

  Response status = f.Get("/api/mirror/status");
  REQUIRE(status.status == http::status::ok);
  CHECK(json::parse(status.body).contains("repos"));

  Response key = f.Get("/api/integrity/key");
  REQUIRE(key.status == http::status::ok);
  CHECK(key.body.find("BEGIN PUBLIC KEY") != std::string::npos);

  Response manifest = f.Get("/api/integrity/models/acme/model/main");
  REQUIRE(manifest.status == http::status::ok);
  CHECK(manifest.body.find(f.commit) != std::string::npos);
}

TEST_CASE("Without a registry every data request is a 500, health still answers", "[handlers]") {
  HandlerFixture f;
  Request request(http::verb::get, "/api/models/acme/model", 11);
  DispatchEnvironment broken{nullptr, *f.local_store, 0, *f.key, "http://x", nullptr};
  CHECK(Dispatch(request, broken).status == http::status::internal_server_error);
  Request health(http::verb::get, "/healthz", 11);
  CHECK(Dispatch(health, broken).status == http::status::ok);
}

}  // namespace
}  // namespace hubmirror::api
