#include "sync/bundle_format.h"

#include <catch2/catch.hpp>
#include <functional>

namespace hubmirror::sync {
namespace {

using nlohmann::json;

const std::string kCommit = "0123456789abcdef0123456789abcdef01234567";
const std::string kParent = "89abcdef0123456789abcdef0123456789abcdef";
const std::string kSha256 = std::string(64, 'a');
const std::string kOtherSha256 = std::string(64, 'b');
const std::string kGitSha1 = std::string(40, 'c');

// A file entry (the git id is not checked by the reader).
registry::Entry File(std::string path, uint64_t size, std::string sha256) {
  registry::Entry entry;
  entry.path = std::move(path);
  entry.size = size;
  entry.sha256 = std::move(sha256);
  entry.git_oid = kGitSha1;
  return entry;
}

// The content of a valid bundle, as the exporter writes it: one model with a directory, two
// files and two branches, and two blobs end to end.
json ValidContent() {
  registry::Entry directory = File("original", 0, "");
  directory.is_directory = true;
  registry::Entry weights = File("original\\consolidated.00.pth", 5, kSha256);
  weights.lfs = true;
  weights.pointer_size = 134;
  registry::Entry readme = File("README.md", 7, kOtherSha256);
  registry::Commit commit;
  commit.id = kCommit;
  commit.parent_id = kParent;
  commit.title = "Upload";
  commit.date_ms = 1714564800000;
  commit.card_data_json = "{\"base_model\":\"acme/base\"}";
  commit.tags = {"gguf", "base_model:acme/base"};
  json entries = {EntryJson(directory), EntryJson(weights), EntryJson(readme)};
  json repo = {{"type", "model"},
               {"name", "acme/model"},
               {"default_branch", "main"},
               {"refs", {{"main", kCommit}, {"dev", kCommit}}},
               {"commits", {CommitJson(commit, entries)}},
               {"lineage",
                {{{"parent", "acme/base"},
                  {"relation", "quantized"},
                  {"source", "card"},
                  {"inferred", false}}}},
               {"pipeline_tag", "text-generation"},
               {"library_name", "gguf"},
               {"downloads", 12}};
  return {{"format", 1},
          {"created_at", "2024-05-01T12:00:00.000Z"},
          {"key_id", "0123456789abcdef"},
          {"volume_size", 8},
          {"volumes", 2},
          {"bytes", 12},
          {"repos", {repo}},
          {"blobs", {BlobJson({kSha256, 5, "", 0}), BlobJson({kOtherSha256, 7, kGitSha1, 5})}}};
}

TEST_CASE("a valid bundle is read whole", "[bundle]") {
  auto bundle = ParseBundleContent(ValidContent());
  REQUIRE(bundle.ok());
  CHECK(bundle->volume_size == 8);
  CHECK(bundle->bytes == 12);
  REQUIRE(bundle->repos.size() == 1);
  const BundleRepo& repo = bundle->repos[0];
  CHECK(repo.type == RepoType::kModel);
  CHECK(repo.name == "acme/model");
  CHECK(repo.default_branch == "main");
  CHECK(repo.refs == std::map<std::string, std::string>{{"dev", kCommit}, {"main", kCommit}});
  CHECK(repo.pipeline_tag == "text-generation");
  CHECK(repo.library_name == "gguf");
  CHECK(repo.details.downloads == 12);
  REQUIRE(repo.lineage.size() == 1);
  CHECK(repo.lineage[0].child == "acme/model");
  CHECK(repo.lineage[0].parent == "acme/base");
  CHECK(repo.lineage[0].relation == "quantized");
  CHECK(repo.lineage[0].source == "card");
  REQUIRE(repo.commits.size() == 1);
  const BundleCommit& commit = repo.commits[0];
  CHECK(commit.commit.id == kCommit);
  CHECK(commit.commit.parent_id == kParent);
  CHECK(commit.commit.date_ms == 1714564800000);
  CHECK(commit.commit.card_data_json == "{\"base_model\":\"acme/base\"}");
  CHECK(commit.commit.tags == std::vector<std::string>{"gguf", "base_model:acme/base"});
  REQUIRE(commit.entries.size() == 3);
  CHECK(commit.entries[0].is_directory);
  CHECK(commit.entries[0].sha256.empty());
  CHECK(commit.entries[1].path == "original\\consolidated.00.pth");
  CHECK(commit.entries[1].sha256 == kSha256);
  CHECK(commit.entries[1].lfs);
  CHECK(commit.entries[1].pointer_size == 134);
  CHECK(commit.entries[2].size == 7);
  REQUIRE(bundle->blobs.size() == 2);
  CHECK(bundle->blobs[1].sha256 == kOtherSha256);
  CHECK(bundle->blobs[1].size == 7);
  CHECK(bundle->blobs[1].git_sha1 == kGitSha1);
  CHECK(bundle->blobs[1].offset == 5);
}

TEST_CASE("refs of every kind, the flags and what a commit computes travel", "[bundle]") {
  registry::Repo repo;
  repo.type = RepoType::kDataset;
  repo.name = "acme/corpus";
  repo.author = "acme";
  repo.object_id = "66d3f0a1b2c3d4e5f6a7b8c9";
  repo.created_at_ms = 1693526400000;
  repo.last_modified_ms = 1727740800123;
  repo.pipeline_tag = "text-generation";
  repo.library_name = "datasets";
  repo.downloads = 1234;
  repo.likes = 56;
  repo.gated = "manual";
  repo.is_private = true;
  repo.disabled = true;
  const std::vector<registry::Ref> refs = {{RefKind::kBranch, "main", kCommit},
                                           {RefKind::kBranch, "dev", kParent},
                                           {RefKind::kTag, "v1.0", kParent},
                                           {RefKind::kPullRequest, "16", kCommit},
                                           {RefKind::kConvert, "parquet", kParent}};
  registry::Commit commit;
  commit.id = kCommit;
  commit.config_json = "{\"architectures\":[\"LlamaForCausalLM\"],\"model_type\":\"llama\"}";
  commit.safetensors_json = "{\"parameters\":{\"BF16\":8030261248},\"total\":8030261248}";
  json item = {{"type", "dataset"},
               {"name", repo.name},
               {"default_branch", "main"},
               {"commits", {CommitJson(commit, json::array())}}};
  item.update(RefsJson(refs));
  item.update(RepoDetailsJson(repo));
  json content = ValidContent();
  content["repos"] = json::array({item});

  auto bundle = ParseBundleContent(content);
  INFO(bundle.status().message());
  REQUIRE(bundle.ok());
  REQUIRE(bundle->repos.size() == 1);
  const BundleRepo& read = bundle->repos[0];
  CHECK(read.refs == std::map<std::string, std::string>{{"dev", kParent}, {"main", kCommit}});
  CHECK(read.other_refs ==
        std::map<RefName, std::string>{{{RefKind::kTag, "v1.0"}, kParent},
                                       {{RefKind::kPullRequest, "16"}, kCommit},
                                       {{RefKind::kConvert, "parquet"}, kParent}});
  CHECK(read.details.author == repo.author);
  CHECK(read.details.object_id == repo.object_id);
  CHECK(read.details.created_at_ms == repo.created_at_ms);
  CHECK(read.details.last_modified_ms == repo.last_modified_ms);
  CHECK(read.pipeline_tag == repo.pipeline_tag);
  CHECK(read.library_name == repo.library_name);
  CHECK(read.details.downloads == repo.downloads);
  CHECK(read.details.likes == repo.likes);
  CHECK(read.details.gated == "manual");
  CHECK(read.details.is_private);
  CHECK(read.details.disabled);
  REQUIRE(read.commits.size() == 1);
  CHECK(read.commits[0].commit.config_json == commit.config_json);
  CHECK(read.commits[0].commit.safetensors_json == commit.safetensors_json);

  // An instance's rows never make an unreadable bundle.
  repo.downloads = -1;
  repo.created_at_ms = -86400000;
  json details = RepoDetailsJson(repo);
  CHECK(details["downloads"] == 0);
  CHECK(details["created_at"] == 0);
}

TEST_CASE("a bundle written before refs other than branches and the flags travelled", "[bundle]") {
  auto bundle = ParseBundleContent(ValidContent());
  REQUIRE(bundle.ok());
  const BundleRepo& repo = bundle->repos[0];
  CHECK(repo.other_refs.empty());
  CHECK(repo.details.gated == "false");
  CHECK_FALSE(repo.details.is_private);
  CHECK_FALSE(repo.details.disabled);
  CHECK(repo.details.author.empty());
  CHECK(repo.details.object_id.empty());
  CHECK(repo.details.created_at_ms == 0);
  CHECK(repo.details.last_modified_ms == 0);
  CHECK(repo.details.likes == 0);
  CHECK(repo.commits[0].commit.config_json.empty());
  CHECK(repo.commits[0].commit.safetensors_json.empty());
}

TEST_CASE("what the exporter never writes is left out, not refused", "[bundle]") {
  json content = ValidContent();
  json& repo = content["repos"][0];
  repo["refs"]["../escape"] = kCommit;
  repo["refs"]["number"] = 7;
  repo["lineage"].push_back({{"parent", "../../etc"}, {"relation", "finetune"}});
  repo["commits"][0]["tags"].push_back(3);
  repo["tags"] = {
      {"v1.0", kCommit}, {"two words", kCommit}, {"refs/heads/x", kCommit}, {"v2", json::array()}};
  repo["pull_requests"] = {{"16", kCommit}, {"016", kCommit}, {"0", kCommit}, {"x", kCommit}};
  repo["converts"] = {{"parquet", kCommit}, {"../duckdb", kCommit}, {"", kCommit}};
  auto bundle = ParseBundleContent(content);
  REQUIRE(bundle.ok());
  CHECK(bundle->repos[0].refs.size() == 2);
  CHECK(bundle->repos[0].other_refs ==
        std::map<RefName, std::string>{{{RefKind::kTag, "v1.0"}, kCommit},
                                       {{RefKind::kPullRequest, "16"}, kCommit},
                                       {{RefKind::kConvert, "parquet"}, kCommit}});
  CHECK(bundle->repos[0].lineage.size() == 1);
  CHECK(bundle->repos[0].commits[0].commit.tags.size() == 2);
}

TEST_CASE("a malformed or hostile bundle is refused, naming the part", "[bundle]") {
  struct Case {
    const char* what;
    std::function<void(json&)> damage;
    std::string error;
  };
  auto entry = [](json& c) -> json& { return c["repos"][0]["commits"][0]["entries"][1]; };
  const std::string in_commit = "acme/model@" + kCommit;
  auto c = GENERATE_COPY(values<Case>({
      {"not an object", [](json& c) { c = json::array(); }, "unknown format"},
      {"no format", [](json& c) { c.erase("format"); }, "unknown format"},
      {"a later format", [](json& c) { c["format"] = 2; }, "unknown format"},
      {"the format as text", [](json& c) { c["format"] = "1"; }, "unknown format"},
      {"no repos", [](json& c) { c.erase("repos"); }, "no repos or blobs"},
      {"blobs not a list", [](json& c) { c["blobs"] = json::object(); }, "no repos or blobs"},
      {"no volume size", [](json& c) { c.erase("volume_size"); }, "no volume size"},
      {"a zero volume size", [](json& c) { c["volume_size"] = 0; }, "no volume size"},
      {"a negative volume size", [](json& c) { c["volume_size"] = -8; }, "no volume size"},
      {"a fractional volume size", [](json& c) { c["volume_size"] = 8.5; }, "no volume size"},
      {"a negative length", [](json& c) { c["bytes"] = -1; }, "an invalid stream length"},
      {"a repo that is not an object", [](json& c) { c["repos"][0] = "acme/model"; },
       "a repo without a valid type, name, refs or commits"},
      {"a repo of an unknown type", [](json& c) { c["repos"][0]["type"] = "space"; },
       "a repo without a valid type, name, refs or commits"},
      {"a repo name escaping", [](json& c) { c["repos"][0]["name"] = "acme/../../etc"; },
       "a repo without a valid type, name, refs or commits"},
      {"a repo name with a NUL", [](json& c) { c["repos"][0]["name"] = std::string("ac\0me/m", 7); },
       "a repo without a valid type, name, refs or commits"},
      {"refs as a list", [](json& c) { c["repos"][0]["refs"] = json::array(); },
       "a repo without a valid type, name, refs or commits"},
      {"no commits", [](json& c) { c["repos"][0].erase("commits"); },
       "a repo without a valid type, name, refs or commits"},
      {"downloads past int64", [](json& c) { c["repos"][0]["downloads"] = UINT64_MAX; },
       "an invalid field in repo acme/model"},
      {"a default branch that is a number", [](json& c) { c["repos"][0]["default_branch"] = 1; },
       "an invalid field in repo acme/model"},
      {"lineage as an object", [](json& c) { c["repos"][0]["lineage"] = json::object(); },
       "an invalid field in repo acme/model"},
      {"negative downloads", [](json& c) { c["repos"][0]["downloads"] = -3; },
       "an invalid field in repo acme/model"},
      {"negative likes", [](json& c) { c["repos"][0]["likes"] = -1; },
       "an invalid field in repo acme/model"},
      {"likes as text", [](json& c) { c["repos"][0]["likes"] = "12"; },
       "an invalid field in repo acme/model"},
      {"gated neither false, auto nor manual", [](json& c) { c["repos"][0]["gated"] = "yes"; },
       "an invalid field in repo acme/model"},
      {"gated as the Hub's boolean", [](json& c) { c["repos"][0]["gated"] = false; },
       "an invalid field in repo acme/model"},
      {"private as text", [](json& c) { c["repos"][0]["private"] = "true"; },
       "an invalid field in repo acme/model"},
      {"disabled as a number", [](json& c) { c["repos"][0]["disabled"] = 1; },
       "an invalid field in repo acme/model"},
      {"an object id in capitals",
       [](json& c) { c["repos"][0]["object_id"] = "66D3F0A1B2C3D4E5F6A7B8C9"; },
       "an invalid field in repo acme/model"},
      {"an object id too short",
       [](json& c) { c["repos"][0]["object_id"] = "66d3f0a1b2c3d4e5f6a7b8c"; },
       "an invalid field in repo acme/model"},
      {"an author with a slash", [](json& c) { c["repos"][0]["author"] = "acme/other"; },
       "an invalid field in repo acme/model"},
      {"an author escaping", [](json& c) { c["repos"][0]["author"] = ".."; },
       "an invalid field in repo acme/model"},
      {"a creation time before 1970", [](json& c) { c["repos"][0]["created_at"] = -1; },
       "an invalid field in repo acme/model"},
      {"a modification time as text",
       [](json& c) { c["repos"][0]["last_modified"] = "2024-10-01T00:00:00.000Z"; },
       "an invalid field in repo acme/model"},
      {"tags as a list", [](json& c) { c["repos"][0]["tags"] = json::array({"v1.0"}); },
       "an invalid field in repo acme/model"},
      {"pull requests as text", [](json& c) { c["repos"][0]["pull_requests"] = "16"; },
       "an invalid field in repo acme/model"},
      {"converts as null", [](json& c) { c["repos"][0]["converts"] = nullptr; },
       "an invalid field in repo acme/model"},
      {"a config that is not JSON",
       [](json& c) { c["repos"][0]["commits"][0]["config"] = "{\"model_type\":"; },
       "an invalid field in commit " + in_commit},
      {"a config that is a JSON object, not its text",
       [](json& c) { c["repos"][0]["commits"][0]["config"] = {{"model_type", "llama"}}; },
       "an invalid field in commit " + in_commit},
      {"safetensors that are a list",
       [](json& c) { c["repos"][0]["commits"][0]["safetensors"] = "[1, 2]"; },
       "an invalid field in commit " + in_commit},
      {"a lineage edge that is text", [](json& c) { c["repos"][0]["lineage"][0] = "acme/base"; },
       "an invalid lineage edge of acme/model"},
      {"a commit id that is not hex",
       [](json& c) { c["repos"][0]["commits"][0]["id"] = "../../../etc/passwd"; },
       "a commit of acme/model without id or entries"},
      {"a commit without entries", [](json& c) { c["repos"][0]["commits"][0].erase("entries"); },
       "a commit of acme/model without id or entries"},
      {"a commit date as text", [](json& c) { c["repos"][0]["commits"][0]["date"] = "today"; },
       "an invalid field in commit " + in_commit},
      {"a commit message as a number",
       [](json& c) { c["repos"][0]["commits"][0]["message"] = 5; },
       "an invalid field in commit " + in_commit},
      {"an entry path escaping", [=](json& c) { entry(c)["path"] = "../../etc/passwd"; },
       "an invalid entry in " + in_commit},
      {"an absolute entry path", [=](json& c) { entry(c)["path"] = "/etc/passwd"; },
       "an invalid entry in " + in_commit},
      {"an entry path with a NUL",
       [=](json& c) { entry(c)["path"] = std::string("a\0b", 3); },
       "an invalid entry in " + in_commit},
      {"an entry that is a symlink", [=](json& c) { entry(c)["type"] = "symlink"; },
       "an invalid entry in " + in_commit},
      {"a file without a digest", [=](json& c) { entry(c).erase("sha256"); },
       "an invalid entry in " + in_commit},
      {"a file digest that is not hex", [=](json& c) { entry(c)["sha256"] = std::string(64, 'z'); },
       "an invalid entry in " + in_commit},
      {"a negative file size", [=](json& c) { entry(c)["size"] = -1; },
       "an invalid entry in " + in_commit},
      {"lfs as text", [=](json& c) { entry(c)["lfs"] = "yes"; },
       "an invalid entry in " + in_commit},
      {"an entry that is a list", [=](json& c) { entry(c) = json::array(); },
       "an invalid entry in " + in_commit},
      {"a blob that is text", [](json& c) { c["blobs"][0] = kSha256; }, "an invalid blob"},
      {"a blob digest that is not hex", [](json& c) { c["blobs"][0]["sha256"] = "../x"; },
       "an invalid blob"},
      {"a blob without size", [](json& c) { c["blobs"][0].erase("size"); }, "an invalid blob"},
      {"a blob without offset", [](json& c) { c["blobs"][0].erase("offset"); },
       "an invalid blob"},
      {"a negative blob offset", [](json& c) { c["blobs"][0]["offset"] = -5; },
       "an invalid blob"},
      {"a git SHA-1 that is not hex", [](json& c) { c["blobs"][1]["git_sha1"] = "zz"; },
       "an invalid blob"},
      {"a blob past the end", [](json& c) { c["blobs"][1]["size"] = 8; },
       "blob " + kOtherSha256 + " lies past the volumes' end"},
      {"a blob offset past the end", [](json& c) { c["blobs"][1]["offset"] = 100; },
       "blob " + kOtherSha256 + " lies past the volumes' end"},
      {"offset and size that wrap around 64 bits",
       [](json& c) {
         c["bytes"] = UINT64_MAX;
         c["blobs"][1]["offset"] = UINT64_MAX - 1;
         c["blobs"][1]["size"] = 7;
       },
       "blob " + kOtherSha256 + " lies past the volumes' end"},
  }));
  INFO(c.what);
  json content = ValidContent();
  c.damage(content);
  auto bundle = ParseBundleContent(content);
  REQUIRE_FALSE(bundle.ok());
  CHECK(bundle.status().code() == StatusCode::kCorrupt);
  CHECK(bundle.status().message() == "malformed bundle: " + c.error);
}

TEST_CASE("bundle.json is a signed bundle document", "[bundle]") {
  json valid = {{"bundle", ValidContent()}, {"signature", "c2ln"}};
  auto opened = OpenBundleDocument(valid.dump(1));
  REQUIRE(opened.ok());
  CHECK(opened->key_id() == "0123456789abcdef");
  CHECK(ParseBundleContent(opened->payload()).ok());

  auto text = GENERATE(values<std::string>({
      "",
      "{\"bundle\": ",
      "not json",
      "[1, 2]",
      "{\"bundle\": {\"key_id\": \"k\"}}",
      "{\"manifest\": {\"key_id\": \"k\"}, \"signature\": \"c2ln\"}",
      "{\"bundle\": {\"key_id\": \"k\"}, \"signature\": null}",
      "\"bundle\\u0000\"",
  }));
  INFO(text);
  auto refused = OpenBundleDocument(text);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == StatusCode::kCorrupt);
  CHECK(refused.status().message().find("malformed bundle.json") == 0);
}

}  // namespace
}  // namespace hubmirror::sync
