// Integration tests of the HTTP API against the real binary: `hubmirror import` fills a data
// directory, one `hubmirror serve` process on 127.0.0.1:0 answers, and every endpoint is checked
// over loopback for the statuses, headers and bodies the Hub clients rely on (hub-protocol
// §1.2-1.6, §2.7, §3, §4). Expected hashes are computed here from the imported bytes.
#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/digest.h"
#include "common/url.h"
#include "tests/integration/http_client.h"
#include "tests/integration/server_process.h"
#include "tests/support/temp_dir.h"

namespace hubmirror::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Repo path -> content.
using Files = std::map<std::string, std::string>;

constexpr const char* kModel = "acme/model";
constexpr const char* kCommitTitle = "Import from local folder";
// Over 64 KiB so the server sends it with sendfile, odd so range ends are not block-aligned.
constexpr size_t kBigLfsSize = 3 * 1024 * 1024 + 7;
constexpr size_t kManyFiles = 1100;

const std::regex kIsoMillis(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)");
const std::regex kHex24("[0-9a-f]{24}");
const std::regex kHex40("[0-9a-f]{40}");
// huggingface.js parseLinkHeader (hub-protocol §1.5).
const std::regex kLinkHeader(R"(<(https?:[/][/][^>]+)>;\s+rel="([^"]+)\")");

// Deterministic bytes (xorshift64*), so sizes and hashes are the same on every run.
std::string PseudoRandomBytes(size_t size, uint64_t seed) {
  std::string out(size, '\0');
  uint64_t state = 0x9e3779b97f4a7c15ull ^ (seed * 0xbf58476d1ce4e5b9ull);
  for (auto& c : out) {
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    c = static_cast<char>((state * 0x2545f4914f6cdd1dull) >> 56);
  }
  return out;
}

Files ModelFiles(int version) {
  Files files = {
      {".gitattributes",
       "*.safetensors filter=lfs diff=lfs merge=lfs -text\n"
       "*.pth filter=lfs diff=lfs merge=lfs -text\n"},
      {"README.md",
       "---\nlicense: mit\nbase_model: acme/base\nlibrary_name: transformers\n"
       "pipeline_tag: text-generation\n---\n# acme/model\n\nA model for integration tests.\n"},
      {"config.json", "{\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": \"llama\"}\n"},
      {"empty.txt", ""},
      {"model.safetensors", PseudoRandomBytes(kBigLfsSize, 1)},
      {"nested/deep/read me.txt", "a file with a space in its name\n"},
      {"nested/notes.md", "# notes\n"},
      {"original\\consolidated.00.pth", PseudoRandomBytes(1000, 2)},
      {"plus+sign.txt", "a plus sign stays a plus sign in paths\n"},
      {"unicode/caf\xc3\xa9.txt", "caf\xc3\xa9\n"},
      {"tokenizer.json", version == 1 ? "{\"version\": 1}\n" : "{\"version\": 2}\n"},
  };
  if (version == 1) {
    files["removed.txt"] = "only in the first commit\n";
  } else {
    files["added.txt"] = "only in the second commit\n";
  }
  return files;
}

// A string literal with embedded NULs, all of it.
template <size_t N>
std::string Bytes(const char (&literal)[N]) {
  return std::string(literal, N - 1);
}

bool EndsWith(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

// What the Hub would say about one file (hub-protocol §6), computed independently of the server.
struct FileFacts {
  std::string path;
  std::string content;
  bool lfs = false;
  std::string sha256;
  std::string pointer;  // the LFS pointer text (LFS files only)
  std::string git_oid;  // blob id of the content, or of the pointer for LFS files
  std::string resolve_etag;
  std::string raw_etag;
  std::string raw_body;
};

FileFacts Facts(const std::string& path, const std::string& content) {
  FileFacts facts;
  facts.path = path;
  facts.content = content;
  facts.lfs = EndsWith(path, ".safetensors") || EndsWith(path, ".pth") || EndsWith(path, ".gguf") ||
              EndsWith(path, ".parquet");
  facts.sha256 = Sha256Hex(content);
  facts.pointer = "version https://git-lfs.github.com/spec/v1\noid sha256:" + facts.sha256 +
                  "\nsize " + std::to_string(content.size()) + "\n";
  facts.git_oid = GitObjectId("blob", facts.lfs ? facts.pointer : content);
  facts.resolve_etag = "\"" + (facts.lfs ? facts.sha256 : facts.git_oid) + "\"";
  facts.raw_etag = "\"" + facts.git_oid + "\"";
  facts.raw_body = facts.lfs ? facts.pointer : content;
  return facts;
}

// Percent-encodes a repo path the way huggingface_hub's quote() does: '/' kept.
std::string UrlPath(std::string_view path) { return PercentEncode(path, true); }

std::string ParseCommitId(const CommandResult& result) {
  static const std::regex kCommit("commit ([0-9a-f]{40})");
  std::smatch match;
  if (!std::regex_search(result.out, match, kCommit)) return "";
  return match[1];
}

// The data every test reads: several imports into one data directory, served by one process.
// Built on first use and kept for the whole run (the server stops at exit).
struct World {
  TempDir dir;
  fs::path data = dir / "data";
  Files model_v1 = ModelFiles(1);
  Files model_v2 = ModelFiles(2);
  Files dataset = {
      {"README.md", "---\nlicense: cc-by-4.0\npretty_name: Test data\n---\n# data\n"},
      {"data/train.csv", "a,b\n1,2\n3,4\n"},
      {"data/test.parquet", PseudoRandomBytes(2000, 3)},
  };
  Files child = {
      {"README.md", "---\nbase_model: acme/model\nlicense: apache-2.0\n---\n# child\n"},
      {"config.json", "{\"model_type\": \"llama\"}\n"},
  };
  Files child_gguf = {
      {"README.md", "---\nbase_model: acme/model\n---\n# quantized child\n"},
      {"model-Q4_K_M.gguf", PseudoRandomBytes(500, 4)},
  };
  CommandResult import_v1, import_v2, reimport_v2, import_dev;
  std::string commit1, commit2, dev_commit, dataset_commit, child_commit, gguf_commit, many_commit;
  std::unique_ptr<ServerProcess> server;
  std::unique_ptr<HttpClient> client;

  World() {
    import_v1 = Import(kModel, model_v1, "model-v1");
    commit1 = ParseCommitId(import_v1);
    import_v2 = Import(kModel, model_v2, "model-v2");
    commit2 = ParseCommitId(import_v2);
    reimport_v2 = ImportFolder(data, kModel, dir / "model-v2");
    import_dev = ImportFolder(data, kModel, dir / "model-v1", "", "dev");
    dev_commit = ParseCommitId(import_dev);
    dataset_commit = ParseCommitId(Import("acme/data", dataset, "dataset", "dataset"));
    child_commit = ParseCommitId(Import("acme/child", child, "child"));
    gguf_commit = ParseCommitId(Import("acme/child-gguf", child_gguf, "child-gguf"));
    Files many;
    for (size_t i = 1; i <= kManyFiles; ++i) {
      char name[32];
      std::snprintf(name, sizeof(name), "many/f%04zu.txt", i);
      many[name] = std::to_string(i) + "\n";
    }
    many_commit = ParseCommitId(Import("acme/many", many, "many"));
    server = ServerProcess::Start(data);
    client = std::make_unique<HttpClient>(server->port());
  }

  CommandResult Import(const std::string& repo, const Files& files, const std::string& folder,
                       const std::string& type = "") {
    for (const auto& [path, content] : files) WriteFile(dir / folder / path, content);
    CommandResult result = ImportFolder(data, repo, dir / folder, type);
    if (result.exit_code != 0 || ParseCommitId(result).empty()) {
      throw std::runtime_error("import of " + repo + " failed (exit " +
                               std::to_string(result.exit_code) + "): " + result.err);
    }
    return result;
  }

  const HttpClient& http() const { return *client; }
};

World& Shared() {
  static World world;
  return world;
}

json Json(const HttpResponse& response) {
  INFO("body: " << response.body.substr(0, 2000));
  json parsed = json::parse(response.body, nullptr, false);
  REQUIRE_FALSE(parsed.is_discarded());
  return parsed;
}

std::set<std::string> KeysOf(const json& object) {
  std::set<std::string> keys;
  for (const auto& item : object.items()) keys.insert(item.key());
  return keys;
}

bool ContainsKey(const json& value, const std::string& key) {
  if (value.is_object()) {
    for (const auto& item : value.items()) {
      if (item.key() == key || ContainsKey(item.value(), key)) return true;
    }
  } else if (value.is_array()) {
    for (const auto& item : value) {
      if (ContainsKey(item, key)) return true;
    }
  }
  return false;
}

std::vector<std::string> Ids(const json& array) {
  std::vector<std::string> ids;
  for (const auto& item : array) ids.push_back(item.at("id").get<std::string>());
  return ids;
}

std::vector<std::string> Paths(const json& array) {
  std::vector<std::string> paths;
  for (const auto& item : array) paths.push_back(item.at("path").get<std::string>());
  return paths;
}

std::set<std::string> CommaList(const std::string& text) {
  std::set<std::string> items;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    std::string item = text.substr(start, comma == std::string::npos ? comma : comma - start);
    item.erase(0, item.find_first_not_of(' '));
    item.erase(item.find_last_not_of(' ') + 1);
    std::transform(item.begin(), item.end(), item.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (!item.empty()) items.insert(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return items;
}

std::multiset<std::string> QueryPairs(const std::string& target) {
  std::multiset<std::string> pairs;
  size_t question = target.find('?');
  if (question == std::string::npos) return pairs;
  std::string query = target.substr(question + 1);
  size_t start = 0;
  while (start <= query.size()) {
    size_t amp = query.find('&', start);
    std::string pair = query.substr(start, amp == std::string::npos ? amp : amp - start);
    if (!pair.empty()) pairs.insert(pair);
    if (amp == std::string::npos) break;
    start = amp + 1;
  }
  return pairs;
}

// The target of the `rel="next"` Link, checked to be an absolute URL on the server's own origin
// that keeps every original query parameter except the paging ones; nullopt on the last page.
std::optional<std::string> NextTarget(const HttpClient& client, const HttpResponse& response,
                                      const std::string& requested,
                                      const std::set<std::string>& paging_keys) {
  std::optional<std::string> next;
  for (const auto& value : response.HeaderValues("Link")) {
    for (auto it = std::sregex_iterator(value.begin(), value.end(), kLinkHeader);
         it != std::sregex_iterator(); ++it) {
      if ((*it)[2] != "next") continue;
      std::string url = (*it)[1];
      INFO("Link: " << value);
      REQUIRE(StartsWith(url, client.origin() + "/"));
      next = url.substr(client.origin().size());
    }
  }
  if (response.Has("Link")) REQUIRE(next.has_value());
  if (next) {
    INFO("requested " << requested << ", next " << *next);
    CHECK(next->substr(0, next->find('?')) == requested.substr(0, requested.find('?')));
    auto next_pairs = QueryPairs(*next);
    for (const auto& pair : QueryPairs(requested)) {
      if (paging_keys.count(pair.substr(0, pair.find('=')))) continue;
      CHECK(next_pairs.count(pair) >= 1);
    }
  }
  return next;
}

// Follows Link headers from `target` to the last page; returns every page's JSON array.
std::vector<json> FollowPages(const HttpClient& client, std::string target,
                              const std::set<std::string>& paging_keys) {
  std::vector<json> pages;
  for (int guard = 0; guard < 200; ++guard) {
    auto response = client.Get(target);
    INFO("GET " << target);
    REQUIRE(response.status == 200);
    pages.push_back(Json(response));
    REQUIRE(pages.back().is_array());
    auto next = NextTarget(client, response, target, paging_keys);
    if (!next) return pages;
    target = *next;
  }
  FAIL("pagination did not end after 200 pages");
  return pages;
}

void CheckCors(const HttpResponse& response) {
  CHECK(response.HeaderOr("Access-Control-Allow-Origin") == "*");
  auto exposed = CommaList(response.HeaderOr("Access-Control-Expose-Headers"));
  for (const char* name :
       {"x-repo-commit", "x-error-code", "x-error-message", "x-total-count", "etag", "link",
        "accept-ranges", "content-range", "x-linked-size", "x-linked-etag"}) {
    INFO("exposed header " << name);
    CHECK(exposed.count(name) == 1);
  }
}

void CheckHealthy(const World& world) {
  auto health = world.http().Get("/healthz");
  CHECK(health.status == 200);
  REQUIRE(world.server->Running());
}

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

void CheckError(const HttpResponse& response, int status, const std::string& code, bool json_body) {
  CHECK(response.status == status);
  CHECK(response.HeaderOr("X-Error-Code") == code);
  CHECK(response.Has("X-Error-Message"));
  CheckCors(response);
  if (json_body) {
    CHECK(StartsWith(response.HeaderOr("Content-Type"), "application/json"));
    json body = json::parse(response.body, nullptr, false);
    CHECK((body.is_object() && body.contains("error") && body["error"].is_string()));
  } else {
    CHECK(StartsWith(response.HeaderOr("Content-Type"), "text/plain"));
  }
}

// ---------------------------------------------------------------------------------------------
// The CLI, as the tests use it
// ---------------------------------------------------------------------------------------------

TEST_CASE("import reports each commit and re-importing an unchanged tree changes nothing",
          "[cli]") {
  World& world = Shared();
  for (const auto* commit :
       {&world.commit1, &world.commit2, &world.dev_commit, &world.dataset_commit,
        &world.child_commit, &world.gguf_commit, &world.many_commit}) {
    REQUIRE(std::regex_match(*commit, kHex40));
  }
  CHECK(world.commit1 != world.commit2);
  uint64_t bytes = 0;
  for (const auto& [path, content] : world.model_v2) bytes += content.size();
  CHECK(StartsWith(world.import_v2.out, "imported " + std::to_string(world.model_v2.size()) +
                                            " files (" + std::to_string(bytes) +
                                            " bytes) into model " + kModel + "@main as commit " +
                                            world.commit2));
  CHECK(world.reimport_v2.exit_code == 0);
  CHECK(StartsWith(world.reimport_v2.out, "unchanged: "));
  CHECK(ParseCommitId(world.reimport_v2) == world.commit2);
  CHECK(world.import_dev.exit_code == 0);
  CHECK(world.import_dev.out.find("@dev as commit") != std::string::npos);
}

TEST_CASE("import refuses bad input with exit code 2 and one line on stderr", "[cli]") {
  TempDir dir;
  WriteFile(dir / "src/config.json", "{}\n");
  fs::create_directories(dir / "outside");
  WriteFile(dir / "outside/secret.txt", "secret\n");
  WriteFile(dir / "escape/ok.txt", "ok\n");
  fs::create_symlink(dir / "outside/secret.txt", dir / "escape/link.txt");
  struct Case {
    std::string name;
    std::vector<std::string> args;
  };
  const std::string data = (dir / "data").string();
  std::vector<Case> cases = {
      {"repo id with two slashes",
       {"import", "--data", data, "--repo", "a/b/c", (dir / "src").string()}},
      {"repo id with '..'", {"import", "--data", data, "--repo", "a/b..c", (dir / "src").string()}},
      {"unknown type",
       {"import", "--data", data, "--repo", "a/b", "--type", "space", (dir / "src").string()}},
      {"bad branch",
       {"import", "--data", data, "--repo", "a/b", "--branch", "a..b", (dir / "src").string()}},
      {"missing folder", {"import", "--data", data, "--repo", "a/b", (dir / "nope").string()}},
      {"symlink out of the folder",
       {"import", "--data", data, "--repo", "a/b", (dir / "escape").string()}},
      {"no --repo", {"import", "--data", data, (dir / "src").string()}},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    CommandResult result = RunHubmirror(c.args);
    CHECK(result.exit_code == 2);
    CHECK(StartsWith(result.err, "hubmirror: "));
    CHECK(std::count(result.err.begin(), result.err.end(), '\n') == 1);
    CHECK(result.out.empty());
  }
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

// ---------------------------------------------------------------------------------------------
// Repo info
// ---------------------------------------------------------------------------------------------

TEST_CASE("repo info: default payload, revisions and card data", "[info]") {
  World& world = Shared();
  const std::string base = std::string("/api/models/") + kModel;
  auto response = world.http().Get(base);
  REQUIRE(response.status == 200);
  CHECK(StartsWith(response.HeaderOr("Content-Type"), "application/json"));
  CheckCors(response);
  json info = Json(response);
  REQUIRE(info.is_object());
  REQUIRE(info.contains("_id"));
  CHECK(std::regex_match(info["_id"].get<std::string>(), kHex24));
  CHECK(info["id"] == kModel);
  CHECK(info["modelId"] == kModel);
  CHECK(info["author"] == "acme");
  CHECK(info["sha"] == world.commit2);
  CHECK(info["private"] == false);
  CHECK(info["disabled"] == false);
  CHECK(info["gated"] == false);
  CHECK(info["pipeline_tag"] == "text-generation");
  CHECK(info["library_name"] == "transformers");
  for (const char* key : {"lastModified", "createdAt"}) {
    INFO(key);
    REQUIRE(info[key].is_string());
    CHECK(std::regex_match(info[key].get<std::string>(), kIsoMillis));
  }
  REQUIRE(info["cardData"].is_object());
  CHECK(info["cardData"]["base_model"] == "acme/base");
  CHECK(info["cardData"]["license"] == "mit");
  REQUIRE(info["tags"].is_array());
  std::set<std::string> tags(info["tags"].begin(), info["tags"].end());
  for (const char* tag : {"base_model:acme/base", "base_model:finetune:acme/base", "license:mit",
                          "safetensors", "transformers", "text-generation"}) {
    INFO("tag " << tag);
    CHECK(tags.count(tag) == 1);
  }
  std::set<std::string> siblings;
  for (const auto& sibling : info["siblings"]) {
    CHECK(KeysOf(sibling) == std::set<std::string>{"rfilename"});
    siblings.insert(sibling["rfilename"].get<std::string>());
  }
  std::set<std::string> expected;
  uint64_t used = 0;
  for (const auto& [path, content] : world.model_v2) {
    expected.insert(path);
    used += content.size();
  }
  CHECK(siblings == expected);
  CHECK(info["usedStorage"] == used);
  CHECK_FALSE(info.contains("baseModels"));
  CHECK_FALSE(info.contains("childrenModelCount"));
  CHECK_FALSE(ContainsKey(info, "xetHash"));

  struct Revision {
    std::string suffix;
    std::string sha;
    const Files* files;
  };
  std::vector<Revision> revisions = {
      {"/revision/main", world.commit2, &world.model_v2},
      {"/revision/HEAD", world.commit2, &world.model_v2},
      {"/revision/" + world.commit2, world.commit2, &world.model_v2},
      {"/revision/" + world.commit1, world.commit1, &world.model_v1},
      {"/revision/dev", world.dev_commit, &world.model_v1},
  };
  for (const auto& revision : revisions) {
    INFO("GET " << base + revision.suffix);
    auto at = world.http().Get(base + revision.suffix);
    REQUIRE(at.status == 200);
    json body = Json(at);
    CHECK(body["_id"] == info["_id"]);
    CHECK(body["id"] == kModel);
    CHECK(body["sha"] == revision.sha);
    std::set<std::string> files;
    for (const auto& sibling : body["siblings"])
      files.insert(sibling["rfilename"].get<std::string>());
    std::set<std::string> wanted;
    for (const auto& [path, content] : *revision.files) wanted.insert(path);
    CHECK(files == wanted);
  }
  // Ids match case-insensitively but are reported as published.
  auto upper = world.http().Get("/api/models/ACME/MODEL");
  REQUIRE(upper.status == 200);
  CHECK(Json(upper)["id"] == kModel);
}

TEST_CASE("repo info: ?blobs=true adds size, blobId and lfs to siblings", "[info]") {
  World& world = Shared();
  const std::string base = std::string("/api/models/") + kModel;
  struct Case {
    std::string target;
    const Files* files;
  };
  std::vector<Case> cases = {
      {base + "?blobs=true", &world.model_v2},
      {base + "?blobs=True", &world.model_v2},
      {base + "/revision/" + world.commit1 + "?blobs=1", &world.model_v1},
  };
  for (const auto& c : cases) {
    INFO("GET " << c.target);
    auto response = world.http().Get(c.target);
    REQUIRE(response.status == 200);
    json info = Json(response);
    REQUIRE(info["siblings"].size() == c.files->size());
    for (const auto& sibling : info["siblings"]) {
      std::string path = sibling["rfilename"];
      INFO(path);
      FileFacts facts = Facts(path, c.files->at(path));
      CHECK(sibling["size"] == facts.content.size());
      CHECK(sibling["blobId"] == facts.git_oid);
      if (facts.lfs) {
        REQUIRE(sibling.contains("lfs"));
        CHECK(sibling["lfs"] == json({{"sha256", facts.sha256},
                                      {"size", facts.content.size()},
                                      {"pointerSize", facts.pointer.size()}}));
      } else {
        CHECK_FALSE(sibling.contains("lfs"));
      }
    }
  }
}

TEST_CASE("repo info: expand selects exactly the requested properties", "[info][expand]") {
  World& world = Shared();
  const std::string base = std::string("/api/models/") + kModel;
  auto subset = world.http().Get(base + "?expand=sha&expand[]=cardData");
  REQUIRE(subset.status == 200);
  json body = Json(subset);
  CHECK(KeysOf(body) == std::set<std::string>{"_id", "id", "sha", "cardData"});
  CHECK(body["sha"] == world.commit2);
  CHECK(body["cardData"]["base_model"] == "acme/base");
  auto at_old = Json(world.http().Get(base + "/revision/" + world.commit1 + "?expand=sha"));
  CHECK(KeysOf(at_old) == std::set<std::string>{"_id", "id", "sha"});
  CHECK(at_old["sha"] == world.commit1);

  struct Lineage {
    std::string repo;
    json base_models;  // null when the key must be absent
    json children;
  };
  json none = {{"adapter", 0}, {"merge", 0}, {"quantized", 0}, {"finetune", 0}};
  std::vector<Lineage> lineage = {
      {kModel,
       {{"relation", "finetune"}, {"models", json::array({{{"id", "acme/base"}}})}},
       {{"adapter", 0}, {"merge", 0}, {"quantized", 1}, {"finetune", 1}}},
      {"acme/child", {{"relation", "finetune"}, {"models", json::array({{{"id", kModel}}})}}, none},
      {"acme/child-gguf",
       {{"relation", "quantized"}, {"models", json::array({{{"id", kModel}}})}},
       none},
      {"acme/many", nullptr, none},
  };
  for (const auto& l : lineage) {
    INFO(l.repo);
    auto response =
        world.http().Get("/api/models/" + l.repo + "?expand=baseModels&expand=childrenModelCount");
    REQUIRE(response.status == 200);
    json info = Json(response);
    if (l.base_models.is_null()) {
      CHECK(KeysOf(info) == std::set<std::string>{"_id", "id", "childrenModelCount"});
    } else {
      CHECK(KeysOf(info) == std::set<std::string>{"_id", "id", "baseModels", "childrenModelCount"});
      REQUIRE(info["baseModels"].is_object());
      CHECK(info["baseModels"]["relation"] == l.base_models["relation"]);
      CHECK(Ids(info["baseModels"]["models"]) == Ids(l.base_models["models"]));
    }
    CHECK(info["childrenModelCount"] == l.children);
  }

  for (const char* bad : {"foo", "cardData.license", "SHA"}) {
    INFO("expand=" << bad);
    CheckError(world.http().Get(base + "?expand=" + bad), 400, "BadRequest", true);
  }
  // Model-only properties are not dataset properties.
  CheckError(world.http().Get("/api/datasets/acme/data?expand=pipeline_tag"), 400, "BadRequest",
             true);
}

TEST_CASE("repo info: datasets", "[info][dataset]") {
  World& world = Shared();
  for (const std::string suffix : {"", "/revision/HEAD", "/revision/main"}) {
    INFO(suffix);
    auto response = world.http().Get("/api/datasets/acme/data" + suffix);
    REQUIRE(response.status == 200);
    json info = Json(response);
    CHECK(std::regex_match(info["_id"].get<std::string>(), kHex24));
    CHECK(info["id"] == "acme/data");
    CHECK(info["sha"] == world.dataset_commit);
    CHECK(info["cardData"]["license"] == "cc-by-4.0");
    CHECK_FALSE(info.contains("modelId"));
    CHECK_FALSE(info.contains("pipeline_tag"));
    std::set<std::string> siblings;
    for (const auto& sibling : info["siblings"])
      siblings.insert(sibling["rfilename"].get<std::string>());
    CHECK(siblings == std::set<std::string>{"README.md", "data/test.parquet", "data/train.csv"});
  }
  CheckError(world.http().Get("/api/models/acme/data"), 404, "RepoNotFound", true);
}

// ---------------------------------------------------------------------------------------------
// Tree
// ---------------------------------------------------------------------------------------------

void CheckEntry(const json& entry, const Files& files, bool expand) {
  std::string path = entry.at("path");
  INFO("entry " << entry.dump());
  CHECK_FALSE(entry.contains("xetHash"));
  CHECK(entry.contains("lastCommit") == expand);
  if (entry["type"] == "directory") {
    CHECK(std::regex_match(entry["oid"].get<std::string>(), kHex40));
    CHECK(entry["size"] == 0);
    CHECK_FALSE(entry.contains("lfs"));
    return;
  }
  REQUIRE(entry["type"] == "file");
  REQUIRE(files.count(path) == 1);
  FileFacts facts = Facts(path, files.at(path));
  CHECK(entry["oid"] == facts.git_oid);
  CHECK(entry["size"] == facts.content.size());
  if (facts.lfs) {
    CHECK(entry["lfs"] == json({{"oid", facts.sha256},
                                {"size", facts.content.size()},
                                {"pointerSize", facts.pointer.size()}}));
  } else {
    CHECK_FALSE(entry.contains("lfs"));
  }
}

// The entries under `directory` ("" = root) the Hub lists: direct children only, directories
// first, then files, each sorted; or with `recursive`, every file and directory below.
std::vector<std::string> ExpectedListing(const Files& files, const std::string& directory,
                                         bool recursive) {
  std::set<std::string> dirs;
  std::set<std::string> leaves;
  std::string prefix = directory.empty() ? "" : directory + "/";
  for (const auto& [path, content] : files) {
    if (!StartsWith(path, prefix)) continue;
    std::string rest = path.substr(prefix.size());
    size_t slash = rest.find('/');
    if (!recursive) {
      if (slash == std::string::npos) {
        leaves.insert(path);
      } else {
        dirs.insert(prefix + rest.substr(0, slash));
      }
      continue;
    }
    leaves.insert(path);
    for (; slash != std::string::npos; slash = rest.find('/', slash + 1)) {
      dirs.insert(prefix + rest.substr(0, slash));
    }
  }
  std::vector<std::string> out(dirs.begin(), dirs.end());
  out.insert(out.end(), leaves.begin(), leaves.end());
  return out;
}

TEST_CASE("tree: root, recursive and subpath listings", "[tree]") {
  World& world = Shared();
  const std::string base = std::string("/api/models/") + kModel + "/tree/";
  struct Case {
    std::string target;
    const Files* files;
    std::string directory;
    bool recursive;
  };
  std::vector<Case> cases = {
      {base + "main", &world.model_v2, "", false},
      {base + "main/", &world.model_v2, "", false},
      {base + "HEAD", &world.model_v2, "", false},
      {base + world.commit1, &world.model_v1, "", false},
      {base + "main?recursive=true", &world.model_v2, "", true},
      {base + "main?recursive=True", &world.model_v2, "", true},
      {base + "main?recursive=1", &world.model_v2, "", true},
      {base + "main?recursive=false", &world.model_v2, "", false},
      {base + "main?recursive=False&expand=False", &world.model_v2, "", false},
      {base + world.commit1 + "?recursive=true", &world.model_v1, "", true},
      {base + "main/nested", &world.model_v2, "nested", false},
      {base + "main/nested?recursive=true", &world.model_v2, "nested", true},
      {base + "main/nested/deep", &world.model_v2, "nested/deep", false},
      {base + "main/nested%2Fdeep", &world.model_v2, "nested/deep", false},
      {base + "main/unicode", &world.model_v2, "unicode", false},
      {base + "dev/nested/", &world.model_v1, "nested", false},
  };
  for (const auto& c : cases) {
    INFO("GET " << c.target);
    auto response = world.http().Get(c.target);
    REQUIRE(response.status == 200);
    CheckCors(response);
    CHECK_FALSE(response.Has("Link"));
    json listing = Json(response);
    REQUIRE(listing.is_array());
    auto paths = Paths(listing);
    auto expected = ExpectedListing(*c.files, c.directory, c.recursive);
    if (c.recursive) {
      CHECK(std::set<std::string>(paths.begin(), paths.end()) ==
            std::set<std::string>(expected.begin(), expected.end()));
      CHECK(paths.size() == expected.size());
    } else {
      CHECK(paths == expected);
    }
    for (const auto& entry : listing) CheckEntry(entry, *c.files, false);
  }
}

TEST_CASE("tree: expand=true adds lastCommit, never xetHash", "[tree]") {
  World& world = Shared();
  auto commits = Json(world.http().Get(std::string("/api/models/") + kModel + "/commits/main"));
  REQUIRE(commits.size() == 2);
  std::map<std::string, std::string> dates;
  for (const auto& commit : commits) {
    dates[commit["id"].get<std::string>()] = commit["date"].get<std::string>();
  }

  auto response = world.http().Get(std::string("/api/models/") + kModel +
                                   "/tree/main?recursive=true&expand=true");
  REQUIRE(response.status == 200);
  json listing = Json(response);
  CHECK_FALSE(ContainsKey(listing, "xetHash"));
  std::map<std::string, std::string> last;
  for (const auto& entry : listing) {
    CheckEntry(entry, world.model_v2, true);
    const json& commit = entry["lastCommit"];
    CHECK(KeysOf(commit) == std::set<std::string>{"id", "title", "date"});
    CHECK(commit["title"] == kCommitTitle);
    CHECK(commit["date"] == dates[commit["id"].get<std::string>()]);
    last[entry["path"].get<std::string>()] = commit["id"].get<std::string>();
  }
  // Unchanged entries keep the commit that last changed them.
  CHECK(last["config.json"] == world.commit1);
  CHECK(last["model.safetensors"] == world.commit1);
  CHECK(last["nested"] == world.commit1);
  CHECK(last["nested/deep/read me.txt"] == world.commit1);
  CHECK(last["tokenizer.json"] == world.commit2);
  CHECK(last["added.txt"] == world.commit2);
}

TEST_CASE("tree: errors", "[tree][errors]") {
  World& world = Shared();
  const std::string base = std::string("/api/models/") + kModel + "/tree/";
  CheckError(world.http().Get(base + "main/nope"), 404, "EntryNotFound", true);
  CheckError(world.http().Get(base + "main/nested/nope"), 404, "EntryNotFound", true);
  CheckError(world.http().Get(base + "main/additional_chat_templates?recursive=false"), 404,
             "EntryNotFound", true);
  CheckError(world.http().Get(base + world.commit2 + "/removed.txt"), 404, "EntryNotFound", true);
  CheckError(world.http().Get(base + "nope"), 404, "RevisionNotFound", true);
  CheckError(world.http().Get("/api/models/acme/nope/tree/main"), 404, "RepoNotFound", true);
  CheckError(world.http().Get(base + "main?cursor=abc"), 400, "BadRequest", true);
  CheckError(world.http().Get(base + "main?cursor=-1"), 400, "BadRequest", true);
}

TEST_CASE("tree: pagination through absolute Link URLs", "[tree][pagination]") {
  World& world = Shared();
  const std::string base = "/api/models/acme/many/tree/main";
  struct Case {
    std::string target;
    size_t total;
    size_t page;
    bool expand;
  };
  std::vector<Case> cases = {
      {base + "?recursive=true", kManyFiles + 1, 1000, false},
      {base + "?recursive=1&foo=bar", kManyFiles + 1, 1000, false},
      {base + "/many", kManyFiles, 1000, false},
      {base + "/many?expand=true", kManyFiles, 50, true},
      {base + "?expand=true&recursive=true", kManyFiles + 1, 50, true},
  };
  for (const auto& c : cases) {
    INFO("first page " << c.target);
    auto pages = FollowPages(world.http(), c.target, {"cursor"});
    REQUIRE(pages.size() == (c.total + c.page - 1) / c.page);
    std::set<std::string> paths;
    size_t count = 0;
    for (size_t i = 0; i < pages.size(); ++i) {
      size_t expected = i + 1 < pages.size() ? c.page : c.total - c.page * (pages.size() - 1);
      CHECK(pages[i].size() == expected);
      for (const auto& entry : pages[i]) {
        paths.insert(entry["path"].get<std::string>());
        CHECK(entry.contains("lastCommit") == c.expand);
        ++count;
      }
    }
    CHECK(count == c.total);
    CHECK(paths.size() == c.total);  // no entry twice, none skipped
    CHECK(paths.count("many/f0001.txt") == 1);
    CHECK(paths.count("many/f1100.txt") == 1);
  }
}

// ---------------------------------------------------------------------------------------------
// paths-info
// ---------------------------------------------------------------------------------------------

TEST_CASE("paths-info: form and JSON bodies", "[paths-info]") {
  World& world = Shared();
  const std::string main_target = std::string("/api/models/") + kModel + "/paths-info/main";
  const std::string old_target =
      std::string("/api/models/") + kModel + "/paths-info/" + world.commit1;
  const std::string form = "application/x-www-form-urlencoded";
  struct Case {
    std::string name;
    std::string target;
    std::string content_type;
    std::string body;
    std::vector<std::string> paths;  // expected, in order
    bool expand;
    const Files* files;
  };
  std::vector<Case> cases = {
      {"form with expand",
       main_target,
       form,
       "paths=config.json&paths=nested&paths=missing.txt&expand=true",
       {"config.json", "nested"},
       true,
       &world.model_v2},
      {"form, PY0 booleans",
       main_target,
       form,
       "paths=config.json&expand=False",
       {"config.json"},
       false,
       &world.model_v2},
      {"form with escapes",
       main_target,
       form,
       "paths=nested%2Fdeep%2Fread+me.txt&paths=plus%2Bsign.txt&paths=unicode%2Fcaf%C3%A9.txt",
       {"nested/deep/read me.txt", "plus+sign.txt", "unicode/caf\xc3\xa9.txt"},
       false,
       &world.model_v2},
      {"json",
       main_target,
       "application/json",
       R"({"paths": ["model.safetensors", "original\\consolidated.00.pth", "nope"]})",
       {"model.safetensors", "original\\consolidated.00.pth"},
       false,
       &world.model_v2},
      {"json with expand",
       main_target,
       "application/json",
       R"({"paths": ["tokenizer.json", "nested/deep"], "expand": true})",
       {"tokenizer.json", "nested/deep"},
       true,
       &world.model_v2},
      {"trailing slash",
       main_target,
       "application/json",
       R"({"paths": ["nested/"]})",
       {"nested"},
       false,
       &world.model_v2},
      {"old commit",
       old_target,
       form,
       "paths=removed.txt&paths=added.txt",
       {"removed.txt"},
       false,
       &world.model_v1},
      {"none exist", main_target, form, "paths=nope&paths=removed.txt", {}, false, &world.model_v2},
      {"empty form", main_target, form, "", {}, false, &world.model_v2},
      {"empty list",
       main_target,
       "application/json",
       R"({"paths": []})",
       {},
       false,
       &world.model_v2},
      {"hostile paths are simply absent",
       main_target,
       form,
       "paths=..%2Fconfig.json&paths=%2Fconfig.json&paths=.&paths=a%2F..%2Fconfig.json&paths=" +
           std::string(5000, 'a'),
       {},
       false,
       &world.model_v2},
      {"dataset",
       "/api/datasets/acme/data/paths-info/main",
       form,
       "paths=data%2Ftrain.csv",
       {"data/train.csv"},
       false,
       &world.dataset},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    auto response = world.http().Post(c.target, c.content_type, c.body);
    REQUIRE(response.status == 200);
    CheckCors(response);
    json listing = Json(response);
    REQUIRE(listing.is_array());
    CHECK(Paths(listing) == c.paths);
    for (const auto& entry : listing) CheckEntry(entry, *c.files, c.expand);
  }
  // A chunked request body is read like any other.
  auto chunked = world.http().SendRaw("POST " + main_target +
                                      " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                                      "Content-Type: application/x-www-form-urlencoded\r\n"
                                      "Transfer-Encoding: chunked\r\n\r\n"
                                      "6\r\npaths=\r\nb\r\nconfig.json\r\n0\r\n\r\n");
  REQUIRE(chunked.status == 200);
  CHECK(Paths(Json(chunked)) == std::vector<std::string>{"config.json"});
}

TEST_CASE("paths-info: media types match case-insensitively (RFC 9110 8.3.1)",
          "[paths-info][rfc]") {
  World& world = Shared();
  const std::string target = std::string("/api/models/") + kModel + "/paths-info/main";
  for (const char* type : {"application/json", "application/json; charset=utf-8",
                           "Application/JSON", "APPLICATION/JSON; charset=UTF-8"}) {
    INFO("Content-Type: " << type);
    auto response = world.http().Post(target, type, R"({"paths": ["config.json"]})");
    REQUIRE(response.status == 200);
    CHECK(Paths(Json(response)) == std::vector<std::string>{"config.json"});
  }
}

TEST_CASE("paths-info: errors", "[paths-info][errors]") {
  World& world = Shared();
  const std::string target = std::string("/api/models/") + kModel + "/paths-info/main";
  const std::string form = "application/x-www-form-urlencoded";
  for (const std::string& body :
       {std::string("{"), std::string(R"({"paths": "config.json"})"),
        std::string(R"({"paths": [1]})"), std::string("[]"), std::string(R"({"nope": []})")}) {
    INFO("JSON body " << body);
    CheckError(world.http().Post(target, "application/json", body), 400, "BadRequest", true);
  }
  CheckError(world.http().Post(target, form, "paths=%zz"), 400, "BadRequest", true);
  std::string many;
  for (int i = 0; i <= 10000; ++i) many += "paths=x&";
  CheckError(world.http().Post(target, form, many), 400, "BadRequest", true);
  CheckError(world.http().Post(std::string("/api/models/") + kModel + "/paths-info/nope", form,
                               "paths=config.json"),
             404, "RevisionNotFound", true);
  CheckError(world.http().Post("/api/models/acme/nope/paths-info/main", form, "paths=config.json"),
             404, "RepoNotFound", true);
  CheckError(world.http().Get(target), 405, "MethodNotAllowed", true);
}

// ---------------------------------------------------------------------------------------------
// refs and commits
// ---------------------------------------------------------------------------------------------

TEST_CASE("refs: branches, converts and tags are always present", "[refs]") {
  World& world = Shared();
  auto response = world.http().Get(std::string("/api/models/") + kModel + "/refs");
  REQUIRE(response.status == 200);
  CheckCors(response);
  json refs = Json(response);
  CHECK(KeysOf(refs) == std::set<std::string>{"branches", "converts", "tags"});
  CHECK(refs["branches"] ==
        json::array(
            {{{"name", "dev"}, {"ref", "refs/heads/dev"}, {"targetCommit", world.dev_commit}},
             {{"name", "main"}, {"ref", "refs/heads/main"}, {"targetCommit", world.commit2}}}));
  CHECK(refs["converts"] == json::array());
  CHECK(refs["tags"] == json::array());
  auto with_prs =
      Json(world.http().Get(std::string("/api/models/") + kModel + "/refs?include_prs=1"));
  CHECK(with_prs["pullRequests"] == json::array());

  auto dataset = Json(world.http().Get("/api/datasets/acme/data/refs"));
  CHECK(dataset["branches"] == json::array({{{"name", "main"},
                                             {"ref", "refs/heads/main"},
                                             {"targetCommit", world.dataset_commit}}}));
  CheckError(world.http().Get("/api/models/acme/nope/refs"), 404, "RepoNotFound", true);
}

TEST_CASE("commits: history, X-Total-Count and page links", "[commits]") {
  World& world = Shared();
  const std::string base = std::string("/api/models/") + kModel + "/commits/";
  auto response = world.http().Get(base + "main");
  REQUIRE(response.status == 200);
  CheckCors(response);
  CHECK(response.HeaderOr("X-Total-Count") == "2");
  CHECK_FALSE(response.Has("Link"));
  json commits = Json(response);
  REQUIRE(commits.size() == 2);
  CHECK(Ids(commits) == std::vector<std::string>{world.commit2, world.commit1});
  for (const auto& commit : commits) {
    CHECK(commit["title"] == kCommitTitle);
    CHECK(commit["message"].is_string());
    REQUIRE(commit["authors"].is_array());
    REQUIRE(commit["authors"].size() == 1);
    CHECK(commit["authors"][0]["user"].is_string());
    CHECK(std::regex_match(commit["date"].get<std::string>(), kIsoMillis));
  }
  auto old = world.http().Get(base + world.commit1);
  CHECK(old.HeaderOr("X-Total-Count") == "1");
  CHECK(Ids(Json(old)) == std::vector<std::string>{world.commit1});
  auto dev = world.http().Get(base + "dev");
  CHECK(Ids(Json(dev)) == std::vector<std::string>{world.dev_commit});

  auto first = world.http().Get(base + "main?limit=1");
  REQUIRE(first.status == 200);
  CHECK(first.HeaderOr("X-Total-Count") == "2");
  CHECK(Ids(Json(first)) == std::vector<std::string>{world.commit2});
  auto next = NextTarget(world.http(), first, base + "main?limit=1", {"p", "limit"});
  REQUIRE(next.has_value());
  auto pairs = QueryPairs(*next);
  CHECK(pairs.count("p=1") == 1);
  CHECK(pairs.count("limit=1") == 1);
  auto second = world.http().Get(*next);
  REQUIRE(second.status == 200);
  CHECK(Ids(Json(second)) == std::vector<std::string>{world.commit1});
  CHECK_FALSE(second.Has("Link"));
  auto pages = FollowPages(world.http(), base + "main?limit=1", {"p", "limit"});
  CHECK(pages.size() == 2);

  auto beyond = world.http().Get(base + "main?p=5");
  CHECK(beyond.status == 200);
  CHECK(Json(beyond) == json::array());
  for (const char* bad : {"main?limit=0", "main?limit=x", "main?p=-1", "main?limit=1.5"}) {
    INFO(bad);
    CheckError(world.http().Get(base + bad), 400, "BadRequest", true);
  }
  CheckError(world.http().Get(base + "nope"), 404, "RevisionNotFound", true);
  CheckError(world.http().Get("/api/models/acme/nope/commits/main"), 404, "RepoNotFound", true);
}

// ---------------------------------------------------------------------------------------------
// Listing and search
// ---------------------------------------------------------------------------------------------

TEST_CASE("listing: search, author, filter, sort, expand", "[list]") {
  World& world = Shared();
  const std::vector<std::string> all = {"acme/child", "acme/child-gguf", "acme/many", "acme/model"};
  struct Case {
    std::string query;
    std::vector<std::string> ids;
  };
  std::vector<Case> cases = {
      {"", all},
      {"?sort=id", all},
      {"?search=child", {"acme/child", "acme/child-gguf"}},
      {"?search=CHILD", {"acme/child", "acme/child-gguf"}},
      {"?search=child&search=gguf", {"acme/child-gguf"}},
      {"?search=_", {}},
      {"?search=%25", {}},
      {"?search=acme%2Fmo", {"acme/model"}},
      {"?author=acme", all},
      {"?author=ACME", all},
      {"?author=nobody", {}},
      {"?filter=base_model:acme/base", {"acme/model"}},
      {"?filter=base_model%3Aacme%2Fbase", {"acme/model"}},
      {"?filter=base_model:acme/model", {"acme/child", "acme/child-gguf"}},
      {"?filter=base_model:finetune:acme/model", {"acme/child"}},
      {"?filter=base_model:quantized:acme/model", {"acme/child-gguf"}},
      {"?filter=base_model:acme/model&filter=gguf", {"acme/child-gguf"}},
      {"?filter=base_model:acme/model,gguf", {"acme/child-gguf"}},
      {"?filter=license:mit", {"acme/model"}},
      {"?filter=license:apache-2.0&author=acme", {"acme/child"}},
      {"?filter=no-such-tag", {}},
      {"?pipeline_tag=text-generation", {"acme/model"}},
      {"?search=model&filter=base_model:acme/base&full=true", {"acme/model"}},
  };
  for (const auto& c : cases) {
    INFO("GET /api/models" << c.query);
    auto response = world.http().Get("/api/models" + c.query);
    REQUIRE(response.status == 200);
    CheckCors(response);
    CHECK_FALSE(response.Has("Link"));
    json listing = Json(response);
    CHECK(Ids(listing) == c.ids);
    for (const auto& item : listing) {
      CHECK(std::regex_match(item["_id"].get<std::string>(), kHex24));
      CHECK(item["modelId"] == item["id"]);
      CHECK(item["tags"].is_array());
      CHECK(item["private"] == false);
      CHECK(item.contains("siblings") == (c.query.find("full=true") != std::string::npos));
    }
  }
  // The model's _id is the same in listings and in its info.
  auto info = Json(world.http().Get(std::string("/api/models/") + kModel));
  auto listed = Json(world.http().Get("/api/models?search=acme/model"));
  REQUIRE(listed.size() == 1);
  CHECK(listed[0]["_id"] == info["_id"]);
  auto full = Json(world.http().Get("/api/models?search=acme/model&full=true"));
  CHECK(full[0]["sha"] == world.commit2);

  auto expanded = Json(world.http().Get("/api/models?expand=sha&expand[]=tags"));
  REQUIRE(expanded.size() == all.size());
  for (const auto& item : expanded) {
    CHECK(KeysOf(item) == std::set<std::string>{"_id", "id", "sha", "tags"});
  }

  // Newest first by lastModified; ids break ties.
  auto by_date = Json(world.http().Get("/api/models?sort=lastModified&expand=lastModified"));
  REQUIRE(by_date.size() == all.size());
  for (size_t i = 1; i < by_date.size(); ++i) {
    CHECK(by_date[i - 1]["lastModified"].get<std::string>() >=
          by_date[i]["lastModified"].get<std::string>());
  }
  for (const char* sort : {"downloads", "likes", "createdAt", "trendingScore"}) {
    INFO("sort=" << sort);
    auto sorted = world.http().Get(std::string("/api/models?sort=") + sort);
    CHECK(sorted.status == 200);
    auto ids = Ids(Json(sorted));
    CHECK(std::set<std::string>(ids.begin(), ids.end()) ==
          std::set<std::string>(all.begin(), all.end()));
  }
  for (const char* bad :
       {"?sort=bogus", "?limit=0", "?limit=x", "?cursor=x", "?expand=nope", "?direction=2"}) {
    INFO(bad);
    CheckError(world.http().Get(std::string("/api/models") + bad), 400, "BadRequest", true);
  }

  auto datasets = world.http().Get("/api/datasets");
  REQUIRE(datasets.status == 200);
  json dataset_list = Json(datasets);
  CHECK(Ids(dataset_list) == std::vector<std::string>{"acme/data"});
  CHECK_FALSE(dataset_list[0].contains("modelId"));
  CHECK(Json(world.http().Get("/api/datasets?search=model")) == json::array());
  CHECK(Json(world.http().Get("/api/datasets?filter=license:cc-by-4.0")).size() == 1);
}

TEST_CASE("listing: limit and cursor pagination", "[list][pagination]") {
  World& world = Shared();
  const std::vector<std::string> all = {"acme/child", "acme/child-gguf", "acme/many", "acme/model"};
  struct Case {
    std::string target;
    size_t page;
    std::vector<std::string> ids;
  };
  std::vector<Case> cases = {
      {"/api/models?limit=1", 1, all},
      {"/api/models?limit=3", 3, all},
      {"/api/models?limit=4", 4, all},
      {"/api/models?search=acme&limit=1&sort=id", 1, all},
      {"/api/models?filter=base_model:acme/model&limit=1", 1, {"acme/child", "acme/child-gguf"}},
  };
  for (const auto& c : cases) {
    INFO("first page " << c.target);
    auto pages = FollowPages(world.http(), c.target, {"cursor"});
    std::vector<std::string> ids;
    for (size_t i = 0; i < pages.size(); ++i) {
      CHECK(pages[i].size() <= c.page);
      if (i + 1 < pages.size()) CHECK(pages[i].size() == c.page);
      for (const auto& id : Ids(pages[i])) ids.push_back(id);
    }
    CHECK(ids == c.ids);
    CHECK(pages.size() == (c.ids.size() + c.page - 1) / c.page);
  }
}

// ---------------------------------------------------------------------------------------------
// Errors and hostile input
// ---------------------------------------------------------------------------------------------

TEST_CASE("errors: unknown repos, revisions and files", "[errors]") {
  World& world = Shared();
  const std::string repo = std::string("/") + kModel;
  const std::string api = std::string("/api/models/") + kModel;
  struct Case {
    std::string method;
    std::string target;
    std::string code;
    bool json_body;
  };
  const std::string absent_commit(40, 'a');
  std::vector<Case> cases = {
      {"GET", "/api/models/acme/nope", "RepoNotFound", true},
      {"GET", "/api/models/acme/base", "RepoNotFound", true},  // known from lineage, not mirrored
      {"GET", "/api/models/gpt2", "RepoNotFound", true},
      {"GET", "/api/datasets/acme/nope/revision/main", "RepoNotFound", true},
      {"GET", "/acme/nope/resolve/main/config.json", "RepoNotFound", false},
      {"HEAD", "/acme/nope/resolve/main/config.json", "RepoNotFound", false},
      {"GET", "/acme/nope/raw/main/config.json", "RepoNotFound", false},
      {"GET", "/datasets/acme/nope/resolve/main/x.csv", "RepoNotFound", false},
      {"GET", repo + "/resolve/nope/config.json", "RevisionNotFound", false},
      {"HEAD", repo + "/resolve/nope/config.json", "RevisionNotFound", false},
      {"GET", repo + "/resolve/" + absent_commit + "/config.json", "RevisionNotFound", false},
      {"GET", repo + "/resolve/" + world.dataset_commit + "/README.md", "RevisionNotFound", false},
      {"GET", repo + "/resolve/refs%2Fpr%2F1/config.json", "RevisionNotFound", false},
      {"GET", repo + "/resolve/refs/pr/1/config.json", "RevisionNotFound", false},
      {"GET", api + "/revision/nope", "RevisionNotFound", true},
      {"GET", api + "/revision/" + absent_commit, "RevisionNotFound", true},
      {"GET", api + "/revision/refs%2Fconvert%2Fparquet", "RevisionNotFound", true},
      {"GET", api + "/tree/refs/pr/1", "RevisionNotFound", true},
      {"GET", api + "/commits/" + absent_commit, "RevisionNotFound", true},
      {"GET", "/api/models/acme/nope/revision/main", "RepoNotFound", true},
      {"GET", "/api/spaces/acme/model", "NotFound", true},
      {"GET", "/nothing-here", "NotFound", false},
      {"GET", api + "/blob/main/config.json", "NotFound", true},
  };
  for (const auto& c : cases) {
    INFO(c.method << " " << c.target);
    auto response = world.http().Send({c.method, c.target, {}, ""});
    CheckError(response, 404, c.code, c.json_body);
    if (c.method == "HEAD") CHECK(response.body.empty());
    if (c.json_body && c.method == "GET") {
      CHECK(Json(response)["error"].is_string());
    } else if (c.method == "GET") {
      CHECK_FALSE(response.body.empty());
      CHECK_FALSE(StartsWith(response.body, "{"));
    }
    CHECK(response.bytes_after_message == 0);
  }
  // Missing files: EntryNotFound with the commit the revision resolved to.
  struct Missing {
    std::string method;
    std::string target;
    std::string commit;
  };
  std::vector<Missing> missing = {
      {"GET", repo + "/resolve/main/nope.txt", world.commit2},
      {"HEAD", repo + "/resolve/main/nope.txt", world.commit2},
      {"GET", repo + "/raw/main/nope.txt", world.commit2},
      {"GET", repo + "/resolve/main/removed.txt", world.commit2},
      {"GET", repo + "/resolve/" + world.commit1 + "/added.txt", world.commit1},
      {"GET", repo + "/resolve/main/nested", world.commit2},  // a directory is not a file
      {"GET", repo + "/resolve/HEAD/nested/deep/readme.txt", world.commit2},
  };
  for (const auto& m : missing) {
    INFO(m.method << " " << m.target);
    auto response = world.http().Send({m.method, m.target, {}, ""});
    CheckError(response, 404, "EntryNotFound", false);
    CHECK(response.HeaderOr("X-Repo-Commit") == m.commit);
    CHECK(response.HeaderOr("X-Error-Message") == "Entry not found");
    if (m.method == "GET") CHECK(response.body == "Entry not found");
  }
}

TEST_CASE("hostile targets get 400, never a crash", "[errors][hostile]") {
  World& world = Shared();
  const std::string repo = std::string("/") + kModel;
  const std::string api = std::string("/api/models/") + kModel;
  std::string long_path;
  while (long_path.size() <= 4200) long_path += std::string(200, 'p') + "/";
  long_path += "x";
  std::string long_target = repo + "/resolve/main/" + std::string(9000, 'a');
  std::vector<std::string> targets = {
      repo + "/resolve/main/../config.json",
      repo + "/resolve/main/./config.json",
      repo + "/resolve/main/nested/../config.json",
      repo + "/resolve/main/%2e%2e/config.json",
      repo + "/resolve/main/%2E%2E/config.json",
      repo + "/resolve/main/.%2e/config.json",
      repo + "/resolve/main/%2e%2e%2fconfig.json",
      repo + "/resolve/main/nested%2F..%2Fconfig.json",
      repo + "/resolve/main/%2Fconfig.json",
      repo + "/resolve/main/nested//notes.md",
      repo + "/resolve/../resolve/main/config.json",
      repo + "/resolve/%2e%2e/config.json",
      repo + "/raw/main/../../../etc/passwd",
      "/acme/../acme/model/resolve/main/config.json",
      "/acme/%2e%2e/resolve/main/config.json",
      "/acme%2Fmodel/resolve/main/config.json",
      "/acme%2fmodel/resolve/main/config.json",
      "/datasets/acme%2Fdata/resolve/main/data/train.csv",
      "/api/models/acme%2Fmodel",
      "/api/models/acme%2Fmodel/tree/main",
      "/api/models/acme/model%2F..",
      "/api/models/acme/..",
      "/api/models/acme/a..b",
      "/api/models/-acme/model",
      "/api/models/acme/model-",
      "/api/models/acme/mo%20del",
      "/api/models/acme/mo%00del",
      api + "/revision/..",
      api + "/revision/%2e%2e",
      api + "/tree/main/..",
      api + "/tree/main/%2e%2e",
      api + "/tree/main/nested/%2e%2e/..",
      api + "/tree/main/nested%2F..%2F..",
      repo + "/resolve/main/config.json%00",
      repo + "/resolve/main/%00",
      repo + "/resolve/main/config.json%00.txt",
      repo + "/resolve/ma%00in/config.json",
      repo + "/resolve/main/a%0d%0aX-Injected:%20yes",
      repo + "/resolve/main/a%0aX-Injected:%20yes",
      repo + "/resolve/main/a%09b",
      repo + "/resolve/main/a%7fb",
      repo + "/resolve/main/a%1bb",
      api + "/tree/main/%0d%0a",
      repo + "/resolve/main/%ff%fe.txt",
      repo + "/resolve/main/%c3.txt",
      repo + "/resolve/main/%zz",
      repo + "/resolve/main/%4",
      repo + "/resolve/main/config.json%",
      repo + "/resolve/main/%%30",
      repo + "/resolve/main/%g0.txt",
      repo + "/resolve/main/config.json?x=%zz",
      api + "?expand=%",
      api + "/tree/main?recursive=%0",
      "/api/models?search=%zz",
      "/api/models/" + std::string(97, 'a') + "/model",
      "/api/models/acme/" + std::string(97, 'b'),
      "/api/models/acme/" + std::string(300, 'b') + "/tree/main",
      "/" + std::string(97, 'a') + "/model/resolve/main/config.json",
      repo + "/resolve/" + std::string(300, 'r') + "/config.json",
      api + "/revision/" + std::string(300, 'r'),
      repo + "/resolve/main/" + std::string(256, 's'),
      api + "/tree/main/" + std::string(256, 's'),
      repo + "/resolve/main/" + long_path,
      long_target,
      std::string("/api/models?search=") + std::string(9000, 'q'),
      "healthz",
  };
  for (const auto& target : targets) {
    INFO("GET " << target.substr(0, 300) << " (" << target.size() << " bytes)");
    bool api_route = StartsWith(target, "/api/");
    for (const char* method : {"GET", "HEAD"}) {
      INFO(method);
      auto response = world.http().Send({method, target, {}, ""});
      CHECK(response.status == 400);
      CHECK(response.HeaderOr("X-Error-Code") == "BadRequest");
      CHECK_FALSE(response.Has("X-Injected"));
      CheckCors(response);
      if (api_route && std::string(method) == "GET") {
        CHECK(StartsWith(response.HeaderOr("Content-Type"), "application/json"));
      }
    }
    CheckHealthy(world);
  }
}

TEST_CASE("malformed HTTP gets 4xx, never a crash", "[errors][hostile]") {
  World& world = Shared();
  struct Case {
    std::string name;
    std::string bytes;
  };
  const std::string host = "Host: 127.0.0.1\r\n";
  std::vector<Case> cases = {
      {"raw control byte in target",
       "GET /acme/model/resolve/main/a\x01"
       "b HTTP/1.1\r\n" +
           host + "\r\n"},
      {"raw DEL in target",
       "GET /acme/model/resolve/main/a\x7f"
       "b HTTP/1.1\r\n" +
           host + "\r\n"},
      {"raw NUL in target",
       Bytes("GET /acme/model/resolve/main/a\0b HTTP/1.1\r\n") + host + "\r\n"},
      {"raw space in target", "GET /acme/model/resolve/main/a b HTTP/1.1\r\n" + host + "\r\n"},
      {"raw CR LF in target",
       "GET /acme/model/resolve/main/a\r\nX-Injected: 1 HTTP/1.1\r\n" + host + "\r\n"},
      {"bad Content-Length", "POST /api/models/acme/model/paths-info/main HTTP/1.1\r\n" + host +
                                 "Content-Length: abc\r\n\r\n"},
      {"two Content-Lengths", "POST /api/models/acme/model/paths-info/main HTTP/1.1\r\n" + host +
                                  "Content-Length: 1\r\nContent-Length: 2\r\n\r\nab"},
      {"bad chunk size", "POST /api/models/acme/model/paths-info/main HTTP/1.1\r\n" + host +
                             "Transfer-Encoding: chunked\r\n\r\nzz\r\n"},
      {"header without colon", "GET /healthz HTTP/1.1\r\n" + host + "Broken header\r\n\r\n"},
      {"bad version", "GET /healthz HTTP/9\r\n" + host + "\r\n"},
      {"no version", "GET /healthz\r\n\r\n"},
      {"TLS hello", Bytes("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n")},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    auto response = world.http().SendRaw(c.bytes);
    CHECK(response.status >= 400);
    CHECK(response.status < 500);
    CHECK_FALSE(response.Has("X-Injected"));
    CheckHealthy(world);
  }
  // Half a request, then the client goes away.
  world.http().SendAndHangUp("GET /acme/model/resolve/main/config.json HTTP/1.1\r\nHost: x", 0);
  CheckHealthy(world);
}

TEST_CASE("methods other than GET and HEAD on file and info routes get 405", "[errors][methods]") {
  World& world = Shared();
  const std::string repo = std::string("/") + kModel;
  const std::string api = std::string("/api/models/") + kModel;
  struct Case {
    std::string method;
    std::string target;
    bool json_body;
  };
  std::vector<Case> cases = {
      {"POST", repo + "/resolve/main/config.json", false},
      {"PUT", repo + "/resolve/main/config.json", false},
      {"DELETE", repo + "/resolve/main/config.json", false},
      {"PATCH", repo + "/raw/main/config.json", false},
      {"POST", "/datasets/acme/data/resolve/main/data/train.csv", false},
      {"POST", api, true},
      {"DELETE", api, true},
      {"POST", api + "/tree/main", true},
      {"PUT", api + "/refs", true},
      {"POST", api + "/commits/main", true},
      {"POST", "/api/models", true},
      {"PUT", api + "/paths-info/main", true},
      {"GET", api + "/paths-info/main", true},
      {"POST", "/healthz", false},
  };
  for (const auto& c : cases) {
    INFO(c.method << " " << c.target);
    auto response = world.http().Send({c.method, c.target, {}, c.method == "GET" ? "" : "x=1"});
    CheckError(response, 405, "MethodNotAllowed", c.json_body);
  }
  CheckHealthy(world);
}

TEST_CASE("405 responses say which methods are allowed (RFC 9110 15.5.6)",
          "[errors][methods][rfc]") {
  World& world = Shared();
  struct Case {
    std::string method;
    std::string target;
    std::set<std::string> allowed;
  };
  std::vector<Case> cases = {
      {"POST", std::string("/") + kModel + "/resolve/main/config.json", {"get", "head"}},
      {"GET", std::string("/api/models/") + kModel + "/paths-info/main", {"post"}},
  };
  for (const auto& c : cases) {
    INFO(c.method << " " << c.target);
    auto response = world.http().Send({c.method, c.target, {}, ""});
    REQUIRE(response.status == 405);
    REQUIRE(response.Has("Allow"));
    auto allowed = CommaList(response.HeaderOr("Allow"));
    for (const auto& method : c.allowed) CHECK(allowed.count(method) == 1);
  }
}

TEST_CASE("request size limits: 431 for big header blocks, 413 for big bodies",
          "[errors][limits]") {
  World& world = Shared();
  const std::string paths_info = std::string("/api/models/") + kModel + "/paths-info/main";
  SECTION("one header over 16 KiB") {
    auto response = world.http().Get("/healthz", {{"X-Big", std::string(20 * 1024, 'h')}});
    CHECK(response.status == 431);
    CHECK(response.HeaderOr("X-Error-Code") == "HeadersTooLarge");
    CheckCors(response);
  }
  SECTION("many headers adding up to over 16 KiB") {
    HeaderList headers;
    for (int i = 0; i < 200; ++i)
      headers.emplace_back("X-H" + std::to_string(i), std::string(90, 'v'));
    CHECK(world.http().Get("/healthz", headers).status == 431);
  }
  SECTION("a header block just under the limit is fine") {
    auto response = world.http().Get("/healthz", {{"X-Big", std::string(15 * 1024, 'h')}});
    CHECK(response.status == 200);
  }
  SECTION("a request target that alone exceeds the header limit") {
    auto response = world.http().Get("/healthz?x=" + std::string(20 * 1024, 'a'));
    CHECK(response.status >= 400);
    CHECK(response.status < 500);
  }
  SECTION("a paths-info body over 1 MiB, with Content-Length") {
    std::string body = "paths=" + std::string(1024 * 1024, 'a');
    auto response = world.http().Post(paths_info, "application/x-www-form-urlencoded", body);
    CHECK(response.status == 413);
    CHECK(response.HeaderOr("X-Error-Code") == "PayloadTooLarge");
    CheckCors(response);
  }
  SECTION("a paths-info body over 1 MiB, declared but not sent") {
    auto response = world.http().SendRaw("POST " + paths_info +
                                         " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                         "Content-Type: application/json\r\n"
                                         "Content-Length: 2000000\r\n\r\n");
    CHECK(response.status == 413);
  }
  SECTION("a paths-info body over 1 MiB, chunked") {
    std::string chunk(64 * 1024, 'a');
    std::string bytes = "POST " + paths_info +
                        " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                        "Content-Type: application/x-www-form-urlencoded\r\n"
                        "Transfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 20; ++i) bytes += "10000\r\n" + chunk + "\r\n";
    bytes += "0\r\n\r\n";
    auto response = world.http().SendRaw(bytes);
    CHECK(response.status == 413);
  }
  SECTION("a body just under 1 MiB is read") {
    std::string body = "paths=config.json&paths=" + std::string(1000 * 1024, 'a');
    auto response = world.http().Post(paths_info, "application/x-www-form-urlencoded", body);
    CHECK(response.status == 200);
    CHECK(Paths(Json(response)) == std::vector<std::string>{"config.json"});
  }
  CheckHealthy(world);
}

TEST_CASE("a client that disconnects mid-download does not hurt the server", "[errors][hostile]") {
  World& world = Shared();
  const std::string request = std::string("GET /") + kModel +
                              "/resolve/main/model.safetensors HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  for (size_t read : {0, 1000, 100000, 1000000}) {
    INFO("hang up after " << read << " bytes");
    world.http().SendAndHangUp(request, read);
    CheckHealthy(world);
  }
  CheckHealthy(world);
  auto full = world.http().Get(std::string("/") + kModel + "/resolve/main/model.safetensors");
  CHECK(full.body == world.model_v2.at("model.safetensors"));
}

TEST_CASE("keep-alive: pipelined requests on one connection, HEAD without a body", "[http]") {
  World& world = Shared();
  const std::string target = std::string("/") + kModel + "/resolve/main/config.json";
  const std::string& content = world.model_v2.at("config.json");
  std::string raw = world.http().Exchange(
      "HEAD " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" + "GET " + target +
      " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" +
      "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  size_t responses = 0;
  for (size_t at = raw.find("HTTP/1.1 200 OK\r\n"); at != std::string::npos;
       at = raw.find("HTTP/1.1 200 OK\r\n", at + 1)) {
    ++responses;
  }
  CHECK(responses == 3);
  size_t first_body = raw.find(content);
  REQUIRE(first_body != std::string::npos);
  CHECK(raw.find(content, first_body + 1) == std::string::npos);  // the HEAD sent no body
  // The file body comes right after the second header block.
  size_t second = raw.find("HTTP/1.1 200 OK\r\n", raw.find("HTTP/1.1 200 OK\r\n") + 1);
  CHECK(raw.find("\r\n\r\n", second) + 4 == first_body);
}

TEST_CASE("HTTP/1.0 requests are answered and the connection closed", "[http]") {
  World& world = Shared();
  std::string raw = world.http().Exchange("GET /healthz HTTP/1.0\r\n\r\n");
  CHECK(StartsWith(raw, "HTTP/1.0 200 OK\r\n"));
  CHECK(EndsWith(raw, "{\"status\":\"ok\"}"));
}

TEST_CASE("HEAD on API routes: the GET's status and Content-Length, no body", "[http]") {
  World& world = Shared();
  for (const std::string& target :
       {std::string("/api/models/") + kModel, std::string("/api/models/") + kModel + "/tree/main",
        std::string("/api/models?limit=1"), std::string("/api/models/acme/nope"),
        std::string("/api/datasets/acme/data/refs"),
        std::string("/api/models/acme/model?expand=x")}) {
    INFO("HEAD " << target);
    auto get = world.http().Get(target);
    auto head = world.http().Head(target);
    CHECK(head.status == get.status);
    CHECK(head.body.empty());
    CHECK(head.bytes_after_message == 0);
    CHECK(head.HeaderOr("Content-Length") == std::to_string(get.body.size()));
    CHECK(head.HeaderOr("Content-Type") == get.HeaderOr("Content-Type"));
    CHECK(head.HeaderOr("Link") == get.HeaderOr("Link"));
  }
}

TEST_CASE("Link URLs use the origin the client addressed", "[pagination]") {
  World& world = Shared();
  const std::string port = std::to_string(world.server->port());
  struct Case {
    std::string host;
    std::string origin;
  };
  std::vector<Case> cases = {
      {"127.0.0.1:" + port, "http://127.0.0.1:" + port},
      {"localhost:" + port, "http://localhost:" + port},
      {"mirror.internal", "http://mirror.internal"},
      {"[::1]:" + port, "http://[::1]:" + port},
      // Anything that is not a plain host[:port] falls back to the address the server is bound to.
      {"evil.example/x?", "http://127.0.0.1:" + port},
      {"a b", "http://127.0.0.1:" + port},
      {"<script>", "http://127.0.0.1:" + port},
  };
  for (const auto& c : cases) {
    INFO("Host: " << c.host);
    auto response = world.http().Get("/api/models?limit=1", {{"Host", c.host}});
    REQUIRE(response.status == 200);
    CHECK(StartsWith(response.HeaderOr("Link"), "<" + c.origin + "/api/models?limit=1&cursor=1>"));
  }
}

TEST_CASE("concurrent clients all get exact answers", "[http][concurrency]") {
  World& world = Shared();
  const std::string repo = std::string("/") + kModel;
  std::vector<std::pair<std::string, std::string>> files(world.model_v2.begin(),
                                                         world.model_v2.end());
  std::atomic<int> wrong{0};
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      // Catch2 assertions are not thread-safe: count here, check after the join.
      try {
        for (int i = 0; i < 40; ++i) {
          const auto& [path, content] = files[static_cast<size_t>(t * 40 + i) % files.size()];
          if (i % 4 == 3) {
            auto tree =
                world.http().Get(std::string("/api/models/") + kModel + "/tree/main?recursive=1");
            if (tree.status != 200 || json::parse(tree.body).size() != 15) ++wrong;
            continue;
          }
          bool ranged = content.size() > 20 && i % 2 == 1;
          auto response =
              world.http().Get(repo + "/resolve/main/" + UrlPath(path),
                               ranged ? HeaderList{{"Range", "bytes=5-14"}} : HeaderList{});
          std::string expected = ranged ? content.substr(5, 10) : content;
          if (response.status != (ranged ? 206 : 200) || response.body != expected ||
              response.HeaderOr("X-Repo-Commit") != world.commit2) {
            ++wrong;
          }
        }
      } catch (const std::exception&) {
        ++errors;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(wrong.load() == 0);
  CHECK(errors.load() == 0);
  CheckHealthy(world);
}

// ---------------------------------------------------------------------------------------------
// CORS, health and the small endpoints
// ---------------------------------------------------------------------------------------------

TEST_CASE("CORS: every response allows any origin; OPTIONS preflights answer 204", "[cors]") {
  World& world = Shared();
  const std::string repo = std::string("/") + kModel;
  std::vector<HttpRequest> requests = {
      {"GET", repo + "/resolve/main/config.json", {{"Origin", "https://example.org"}}, ""},
      {"HEAD", repo + "/resolve/main/model.safetensors", {}, ""},
      {"GET", repo + "/resolve/main/model.safetensors", {{"Range", "bytes=0-0"}}, ""},
      {"GET", repo + "/resolve/main/nope", {}, ""},
      {"GET", "/api/models/acme/nope", {}, ""},
      {"GET", "/api/models", {}, ""},
      {"GET", repo + "/resolve/main/%2e%2e/x", {}, ""},
      {"GET", "/healthz", {}, ""},
  };
  for (const auto& request : requests) {
    INFO(request.method << " " << request.target);
    CheckCors(world.http().Send(request));
  }
  for (const std::string& target : {repo + "/resolve/main/config.json",
                                    std::string("/api/models/") + kModel + "/paths-info/main",
                                    std::string("/api/models/") + kModel + "/revision/HEAD"}) {
    INFO("OPTIONS " << target);
    auto response = world.http().Send({"OPTIONS",
                                       target,
                                       {{"Origin", "https://example.org"},
                                        {"Access-Control-Request-Method", "GET"},
                                        {"Access-Control-Request-Headers", "authorization,range"}},
                                       ""});
    CHECK(response.status == 204);
    CHECK(response.body.empty());
    CheckCors(response);
    auto methods = CommaList(response.HeaderOr("Access-Control-Allow-Methods"));
    for (const char* method : {"get", "head", "post"}) CHECK(methods.count(method) == 1);
    auto headers = CommaList(response.HeaderOr("Access-Control-Allow-Headers"));
    for (const char* header : {"authorization", "range"}) CHECK(headers.count(header) == 1);
  }
}

TEST_CASE("a 204 preflight carries no Content-Length (RFC 9110 8.6)", "[cors][rfc]") {
  World& world = Shared();
  auto response = world.http().Send({"OPTIONS", "/healthz", {}, ""});
  REQUIRE(response.status == 204);
  CHECK_FALSE(response.Has("Content-Length"));
}

TEST_CASE("healthz and the small endpoints clients call", "[health]") {
  World& world = Shared();
  auto health = world.http().Get("/healthz");
  CHECK(health.status == 200);
  CHECK(Json(health) == json({{"status", "ok"}}));
  CheckCors(health);
  auto head = world.http().Head("/healthz");
  CHECK(head.status == 200);
  CHECK(head.body.empty());
  CHECK(head.HeaderOr("Content-Length") == health.HeaderOr("Content-Length"));
  CHECK(head.bytes_after_message == 0);

  CheckError(world.http().Get("/api/whoami-v2"), 401, "Unauthorized", true);
  auto telemetry = world.http().Post("/api/telemetry/examples", "application/json", "{}");
  CHECK(telemetry.status == 200);
  auto harnesses = world.http().Get("/api/agent-harnesses");
  CHECK(harnesses.status == 200);
  CHECK(Json(harnesses).is_object());
}

// ---------------------------------------------------------------------------------------------
// A server of its own: publishing while serving, and a clean shutdown
// ---------------------------------------------------------------------------------------------

TEST_CASE("a running server sees new imports at once and exits 0 on SIGTERM", "[process]") {
  TempDir dir;
  auto server = ServerProcess::Start(dir / "data");
  HttpClient http(server->port());
  CHECK(Json(http.Get("/api/models")) == json::array());
  CheckError(http.Get("/acme/live/resolve/main/a.txt"), 404, "RepoNotFound", false);

  std::string commit;
  for (int version = 1; version <= 2; ++version) {
    INFO("version " << version);
    WriteFile(dir / ("v" + std::to_string(version)) / "a.txt",
              "version " + std::to_string(version) + "\n");
    CommandResult imported =
        ImportFolder(dir / "data", "acme/live", dir / ("v" + std::to_string(version)));
    REQUIRE(imported.exit_code == 0);
    std::string id = ParseCommitId(imported);
    CHECK(id != commit);
    commit = id;
    auto response = http.Get("/acme/live/resolve/main/a.txt");
    CHECK(response.status == 200);
    CHECK(response.body == "version " + std::to_string(version) + "\n");
    CHECK(response.HeaderOr("X-Repo-Commit") == commit);
    CHECK(Json(http.Get("/api/models/acme/live?expand=sha"))["sha"] == commit);
  }
  REQUIRE(server->Running());
  CHECK(server->Stop() == 0);
  CHECK_FALSE(server->Running());
  CHECK(server->Stderr().find("stopped") != std::string::npos);
}

TEST_CASE("importing another branch leaves the default branch's metadata alone",
          "[process][info]") {
  TempDir dir;
  WriteFile(dir / "main/README.md", "---\nlicense: mit\nbase_model: acme/base-a\n---\n# main\n");
  WriteFile(dir / "main/config.json", "{}\n");
  WriteFile(
      dir / "exp/README.md",
      "---\nlicense: apache-2.0\nbase_model: acme/base-b\npipeline_tag: fill-mask\n---\n# exp\n");
  WriteFile(dir / "exp/config.json", "{}\n");
  CommandResult main_import = ImportFolder(dir / "data", "acme/branchy", dir / "main");
  REQUIRE(main_import.exit_code == 0);
  CommandResult exp_import = ImportFolder(dir / "data", "acme/branchy", dir / "exp", "", "exp");
  REQUIRE(exp_import.exit_code == 0);
  auto server = ServerProcess::Start(dir / "data");
  HttpClient http(server->port());

  for (const std::string suffix : {"", "/revision/main", "/revision/HEAD"}) {
    INFO("GET /api/models/acme/branchy" << suffix);
    auto response = http.Get("/api/models/acme/branchy" + suffix);
    REQUIRE(response.status == 200);
    json info = Json(response);
    CHECK(info["sha"] == ParseCommitId(main_import));
    CHECK(info["cardData"]["license"] == "mit");
    CHECK(info["cardData"]["base_model"] == "acme/base-a");
    std::set<std::string> tags(info["tags"].begin(), info["tags"].end());
    CHECK(tags.count("base_model:acme/base-a") == 1);
    CHECK(tags.count("base_model:acme/base-b") == 0);
    CHECK(tags.count("license:apache-2.0") == 0);
    CHECK_FALSE(info.contains("pipeline_tag"));
  }
  auto lineage = Json(http.Get("/api/models/acme/branchy?expand=baseModels"));
  CHECK(Ids(lineage["baseModels"]["models"]) == std::vector<std::string>{"acme/base-a"});
  CHECK(Ids(Json(http.Get("/api/models?filter=base_model:acme/base-a"))) ==
        std::vector<std::string>{"acme/branchy"});
  CHECK(Json(http.Get("/api/models?filter=base_model:acme/base-b")) == json::array());
}

TEST_CASE("serve refuses a bad --listen with exit code 2", "[process]") {
  TempDir dir;
  for (const char* listen : {"nonsense", "127.0.0.1:99999", "127.0.0.1:", "not-an-ip:0"}) {
    INFO(listen);
    CommandResult result = RunHubmirror(
        {"serve", "--data", (dir / "data").string(), "--listen", listen}, std::chrono::seconds(10));
    CHECK(result.exit_code == 2);
    CHECK(StartsWith(result.err, "hubmirror: "));
  }
}

}  // namespace
}  // namespace hubmirror::testing
