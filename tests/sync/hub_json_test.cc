#include "sync/hub_json.h"

#include <catch2/catch.hpp>

#include "common/clock.h"
#include "common/digest.h"
#include "tests/support/temp_dir.h"

namespace hubmirror::sync {
namespace {

using nlohmann::json;

json Recorded(const std::string& name) {
  return json::parse(testing::ReadFile(std::string(HUBMIRROR_RECORDED_DIR) + "/" + name));
}

TEST_CASE("Repo info as the Hub sends it becomes a RemoteRevision", "[hub_json]") {
  json zephyr = Recorded("model-info_zephyr-7b-beta.json");
  auto revision = ParseRevisionInfo(zephyr, "huggingfaceh4/zephyr-7b-beta", "model zephyr");
  REQUIRE(revision.ok());
  CHECK(revision->id == "HuggingFaceH4/zephyr-7b-beta");
  CHECK(revision->commit_id == zephyr["sha"]);
  CHECK(revision->pipeline_tag == "text-generation");
  CHECK(revision->library_name == "transformers");
  CHECK(revision->downloads == zephyr["downloads"].get<int64_t>());
  CHECK(revision->card_data["base_model"] == "mistralai/Mistral-7B-v0.1");
  CHECK(std::find(revision->tags.begin(), revision->tags.end(),
                  "base_model:mistralai/Mistral-7B-v0.1") != revision->tags.end());
  CHECK_FALSE(revision->base_models.has_value());
  CHECK(revision->object_id == "653a4cbd66081db6fc588b21");
  CHECK(revision->author == "HuggingFaceH4");
  CHECK(revision->gated == "false");
  CHECK_FALSE(revision->is_private);
  CHECK(revision->likes == 1355);
  CHECK(revision->created_at_ms == *ParseIsoMillis("2023-10-26T11:25:49.000Z"));
  CHECK(revision->last_modified_ms == *ParseIsoMillis("2024-02-29T11:00:39.000Z"));
  CHECK(revision->config == zephyr["config"]);
  CHECK(revision->safetensors == zephyr["safetensors"]);

  json expanded = Recorded("model-info_expand-baseModels_Llama-2-7B-Chat-GGUF.json");
  expanded["sha"] = std::string(40, 'a');
  revision = ParseRevisionInfo(expanded, "TheBloke/Llama-2-7B-Chat-GGUF", "model gguf");
  REQUIRE(revision.ok());
  REQUIRE(revision->base_models.has_value());
  CHECK(revision->base_models->relation == "quantized");
  CHECK(revision->base_models->ids == std::vector<std::string>{"meta-llama/Llama-2-7b-chat-hf"});
}

TEST_CASE("Hostile repo info is refused or read defensively", "[hub_json]") {
  const std::string sha(40, 'b');
  struct Case {
    const char* name;
    json body;
    bool ok;
  };
  std::vector<Case> cases = {
      {"no sha", {{"id", "a/b"}}, false},
      {"sha of another type", {{"sha", 12}}, false},
      {"sha too short", {{"sha", "abc"}}, false},
      {"sha in upper case", {{"sha", std::string(40, 'B')}}, false},
      {"not an object", json::array({sha}), false},
      {"fields of the wrong types",
       {{"sha", sha},
        {"id", 5},
        {"tags", "x"},
        {"cardData", "x"},
        {"downloads", "many"},
        {"baseModels", {{"models", "x"}}}},
       true},
      {"an id that is not valid", {{"sha", sha}, {"id", "../../etc"}}, true},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    auto revision = ParseRevisionInfo(c.body, "a/b", "model a/b");
    REQUIRE(revision.ok() == c.ok);
    if (!c.ok) {
      CHECK(revision.status().code() == StatusCode::kCorrupt);
      CHECK_THAT(revision.status().message(), Catch::StartsWith("model a/b: "));
      continue;
    }
    CHECK(revision->id == "a/b");
    CHECK(revision->tags.empty());
    CHECK(revision->card_data.is_null());
    CHECK(revision->downloads == 0);
    CHECK_FALSE(revision->base_models.has_value());
  }
}

TEST_CASE("Gated is read as the Hub states it, and strictly when it is odd", "[hub_json]") {
  const std::string sha(40, 'c');
  std::vector<std::pair<json, std::string>> cases = {
      {false, "false"},    {"auto", "auto"},  {"manual", "manual"}, {true, "manual"},
      {"other", "manual"}, {json(), "false"}, {7, "manual"}};
  for (const auto& [gated, expected] : cases) {
    INFO(gated.dump());
    auto revision = ParseRevisionInfo({{"sha", sha}, {"gated", gated}}, "a/b", "model a/b");
    REQUIRE(revision.ok());
    CHECK(revision->gated == expected);
  }
  auto odd = ParseRevisionInfo({{"sha", sha},
                                {"_id", "not hex"},
                                {"author", "../x"},
                                {"private", "yes"},
                                {"createdAt", "yesterday"},
                                {"config", "x"}},
                               "a/b", "model a/b");
  REQUIRE(odd.ok());
  CHECK(odd->object_id.empty());
  CHECK(odd->author.empty());
  CHECK_FALSE(odd->is_private);
  CHECK(odd->created_at_ms == 0);
  CHECK(odd->config.is_null());
}

TEST_CASE("The refs listing gives every kind; invalid refs are left out", "[hub_json]") {
  const std::string a(40, 'a');
  json body = {
      {"branches",
       {{{"name", "main"}, {"ref", "refs/heads/main"}, {"targetCommit", a}},
        {{"name", "bad..name"}, {"ref", "refs/heads/bad..name"}, {"targetCommit", a}},
        {{"name", "short"}, {"targetCommit", "abc"}}}},
      {"tags", {{{"name", "v1.0"}, {"ref", "refs/tags/v1.0"}, {"targetCommit", a}}}},
      {"converts", {{{"name", "parquet"}, {"ref", "refs/convert/parquet"}, {"targetCommit", a}}}},
      {"pullRequests",
       {{{"name", "16"}, {"ref", "refs/pr/16"}, {"targetCommit", a}},
        {{"name", "17"}, {"ref", "refs/heads/17"}, {"targetCommit", a}},
        {{"name", "x"}, {"targetCommit", a}},
        "not an object"}},
  };
  std::vector<RefName> refs;
  for (const auto& remote : ParseRefs(body)) {
    CHECK(remote.commit_id == a);
    refs.push_back(remote.ref);
  }
  CHECK(refs == std::vector<RefName>{{RefKind::kBranch, "main"},
                                     {RefKind::kTag, "v1.0"},
                                     {RefKind::kPullRequest, "16"},
                                     {RefKind::kConvert, "parquet"}});
  CHECK(ParseRefs(json::array()).empty());
  CHECK(ParseRefs({{"branches", "x"}}).empty());
}

TEST_CASE("Tree entries as the Hub lists them parse, LFS ids checked", "[hub_json]") {
  json tree = Recorded("tree_bert-base-uncased.json");
  size_t lfs = 0;
  for (const auto& item : tree) {
    auto entry = ParseTreeEntry(item);
    REQUIRE(entry.ok());
    CHECK(entry->path == item["path"]);
    if (entry->lfs) {
      ++lfs;
      CHECK(entry->sha256 == item["lfs"]["oid"]);
      CHECK(entry->git_oid == GitObjectId("blob", LfsPointer(entry->sha256, entry->size)));
    }
  }
  CHECK(lfs > 0);
}

TEST_CASE("Malformed or unsafe tree entries are refused with the reason", "[hub_json]") {
  const std::string content = "hello";
  const std::string oid = GitObjectId("blob", content);
  const std::string sha256 = Sha256Hex("weights");
  const std::string pointer_oid = GitObjectId("blob", LfsPointer(sha256, 7));
  // Sizes as a parser reads them from text: unsigned.
  json file = {{"type", "file"}, {"path", "a.txt"}, {"oid", oid}, {"size", 5u}};
  json lfs_file = {{"type", "file"},
                   {"path", "w.bin"},
                   {"oid", pointer_oid},
                   {"size", 7u},
                   {"lfs", {{"oid", sha256}, {"size", 7u}}}};
  REQUIRE(ParseTreeEntry(file).ok());
  REQUIRE(ParseTreeEntry(lfs_file).ok());
  auto with = [](json item, const std::string& key, json value) {
    item[key] = std::move(value);
    return item;
  };
  struct Case {
    json item;
    const char* reason;
  };
  std::vector<Case> cases = {
      {json::array(), "not an object"},
      {with(file, "path", "../escape"), ""},
      {with(file, "path", "/absolute"), ""},
      {with(file, "path", std::string("nul\0byte", 8)), ""},
      {with(file, "type", "symlink"), "unknown type"},
      {with(file, "oid", std::string(40, 'G')), "oid"},
      {with(file, "size", -1), "size"},
      {with(file, "size", "5"), "size"},
      {with(lfs_file, "lfs", "yes"), "lfs is not an object"},
      {with(lfs_file, "lfs", {{"oid", "abc"}, {"size", 7u}}), "SHA-256"},
      {with(lfs_file, "lfs", {{"oid", sha256}, {"size", 8u}}), "lfs.size"},
      {with(lfs_file, "oid", oid), "LFS pointer"},
  };
  for (const auto& c : cases) {
    INFO(c.item.dump());
    auto entry = ParseTreeEntry(c.item);
    REQUIRE_FALSE(entry.ok());
    CHECK(entry.status().code() == StatusCode::kCorrupt);
    CHECK_THAT(entry.status().message(), Catch::Contains(c.reason));
  }
}

TEST_CASE("Link headers give the next page", "[hub_json]") {
  struct Case {
    const char* header;
    const char* next;
  };
  std::vector<Case> cases = {
      {"<https://hub/api/models?cursor=abc>; rel=\"next\"", "https://hub/api/models?cursor=abc"},
      {"<https://hub/p1>; rel=\"prev\", <https://hub/p3>; rel=\"next\"", "https://hub/p3"},
      {"<https://hub/p3>; rel=next", "https://hub/p3"},
      {"<https://hub/p1>; rel=\"prev\"", ""},
      {"", ""},
      {"garbage <without end", ""},
  };
  for (const auto& c : cases) {
    INFO(c.header);
    CHECK(NextLink(c.header) == c.next);
  }
}

TEST_CASE("Commit pages and listed models parse defensively", "[hub_json]") {
  auto commit = ParseFirstCommit(json::array({{{"title", "Upload"},
                                               {"authors", {{{"user", "someone"}}}},
                                               {"date", "2024-10-01T12:34:56.000Z"}}}));
  REQUIRE(commit.has_value());
  CHECK(commit->title == "Upload");
  CHECK(commit->message == RemoteCommit{}.message);
  CHECK(commit->author == "someone");
  CHECK(commit->date_ms == 1727786096000);
  CHECK_FALSE(ParseFirstCommit(json::array()).has_value());
  CHECK_FALSE(ParseFirstCommit(json::object()).has_value());
  CHECK(ParseFirstCommit(json::array({{{"date", "yesterday"}}}))->date_ms == 0);

  auto model = ParseListedModel({{"id", "acme/x"}, {"downloads", 3}, {"pipeline_tag", 1}});
  REQUIRE(model.has_value());
  CHECK(model->downloads == 3);
  CHECK(model->pipeline_tag.empty());
  CHECK_FALSE(ParseListedModel({{"id", "../x"}}).has_value());
  CHECK_FALSE(ParseListedModel(json::array()).has_value());
}

}  // namespace
}  // namespace hubmirror::sync
