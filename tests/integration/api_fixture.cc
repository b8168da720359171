#include "tests/integration/api_fixture.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#include "common/digest.h"
#include "common/url.h"

namespace hubmirror::testing {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// What each import of the World reported, in a prepared World's directory.
constexpr const char* kImportLog = "imports.json";

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

Files DatasetFiles() {
  return {
      {"README.md", "---\nlicense: cc-by-4.0\npretty_name: Test data\n---\n# data\n"},
      {"data/train.csv", "a,b\n1,2\n3,4\n"},
      {"data/test.parquet", PseudoRandomBytes(2000, 3)},
  };
}

Files ChildFiles() {
  return {
      {"README.md", "---\nbase_model: acme/model\nlicense: apache-2.0\n---\n# child\n"},
      {"config.json", "{\"model_type\": \"llama\"}\n"},
  };
}

Files ChildGgufFiles() {
  return {
      {"README.md", "---\nbase_model: acme/model\n---\n# quantized child\n"},
      {"model-Q4_K_M.gguf", PseudoRandomBytes(500, 4)},
  };
}

Files ManyFiles() {
  Files many;
  for (size_t i = 1; i <= kManyFiles; ++i) {
    char name[32];
    std::snprintf(name, sizeof(name), "many/f%04zu.txt", i);
    many[name] = std::to_string(i) + "\n";
  }
  return many;
}

// Writes `files` to `root`/`folder` and imports them into `root`/data; throws if that fails.
CommandResult CheckedImport(const fs::path& root, const std::string& repo, const Files& files,
                            const std::string& folder, const std::string& type = "") {
  CommandResult result = ImportFiles(root / "data", repo, root / folder, files, type);
  if (result.exit_code != 0 || ParseCommitId(result).empty()) {
    throw std::runtime_error("import of " + repo + " failed (exit " +
                             std::to_string(result.exit_code) + "): " + result.err);
  }
  return result;
}

// Makes every import of the World into `root`/data; returns what each one reported, by name.
json ImportAll(const fs::path& root) {
  json log;
  auto record = [&log](const char* name, const CommandResult& result) {
    log[name] = {{"exit_code", result.exit_code}, {"out", result.out}, {"err", result.err}};
  };
  record("v1", CheckedImport(root, kModel, ModelFiles(1), "model-v1"));
  record("v2", CheckedImport(root, kModel, ModelFiles(2), "model-v2"));
  record("reimport_v2", ImportFolder(root / "data", kModel, root / "model-v2"));
  record("dev", ImportFolder(root / "data", kModel, root / "model-v1", "", "dev"));
  record("dataset", CheckedImport(root, "acme/data", DatasetFiles(), "dataset", "dataset"));
  record("child", CheckedImport(root, "acme/child", ChildFiles(), "child"));
  record("gguf", CheckedImport(root, "acme/child-gguf", ChildGgufFiles(), "child-gguf"));
  record("many", CheckedImport(root, "acme/many", ManyFiles(), "many"));
  return log;
}

CommandResult Logged(const json& log, const char* name) {
  const json& entry = log.at(name);
  return {entry.at("exit_code").get<int>(), entry.at("out").get<std::string>(),
          entry.at("err").get<std::string>()};
}

}  // namespace

bool EndsWith(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

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

std::string UrlPath(std::string_view path) { return PercentEncode(path, true); }

std::string ParseCommitId(const CommandResult& result) {
  static const std::regex kCommit("commit ([0-9a-f]{40})");
  std::smatch match;
  if (!std::regex_search(result.out, match, kCommit)) return "";
  return match[1];
}

CommandResult ImportFiles(const std::filesystem::path& data_dir, const std::string& repo,
                          const std::filesystem::path& source, const Files& files,
                          const std::string& type) {
  for (const auto& [path, content] : files) WriteFile(source / path, content);
  return ImportFolder(data_dir, repo, source, type);
}

void PrepareWorld(const fs::path& dir) {
  fs::remove_all(dir);
  fs::create_directories(dir);
  WriteFile(dir / kImportLog, ImportAll(dir).dump());
}

World::World()
    : model_v1(ModelFiles(1)),
      model_v2(ModelFiles(2)),
      dataset(DatasetFiles()),
      child(ChildFiles()),
      child_gguf(ChildGgufFiles()) {
  json log;
  if (const char* prepared = std::getenv(kPreparedWorldVariable)) {
    data = fs::path(prepared) / "data";
    log = json::parse(ReadFile(fs::path(prepared) / kImportLog));
  } else {
    log = ImportAll(dir.path());
  }
  import_v1 = Logged(log, "v1");
  commit1 = ParseCommitId(import_v1);
  import_v2 = Logged(log, "v2");
  commit2 = ParseCommitId(import_v2);
  reimport_v2 = Logged(log, "reimport_v2");
  import_dev = Logged(log, "dev");
  dev_commit = ParseCommitId(import_dev);
  dataset_commit = ParseCommitId(Logged(log, "dataset"));
  child_commit = ParseCommitId(Logged(log, "child"));
  gguf_commit = ParseCommitId(Logged(log, "gguf"));
  many_commit = ParseCommitId(Logged(log, "many"));
  server = ServerProcess::Start(data);
  client = std::make_unique<HttpClient>(server->port());
}

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

}  // namespace hubmirror::testing
