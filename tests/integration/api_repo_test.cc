// Repo info (/api/models/REPO, /revision, ?blobs, ?expand) and the /api/models and
// /api/datasets listings with their search, filters, sorting and cursor pagination.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "tests/integration/api_fixture.h"

namespace hubmirror::testing {
namespace {

using nlohmann::json;

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

}  // namespace
}  // namespace hubmirror::testing
