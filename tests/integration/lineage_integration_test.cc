// Lineage over imported repos: `hubmirror lineage` and /api/lineage, field by field.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/integration/api_fixture.h"

namespace hubmirror::testing {
namespace {

using nlohmann::json;

// root -> finetune -> quantized, and an adapter on the finetune; a merge with an absent parent.
struct Family {
  TempDir dir;
  std::filesystem::path data = dir / "data";

  Family() {
    Import("org/root", {{"config.json", "{}"}});
    Import("org/tuned", {{"README.md", "---\nbase_model: org/root\n---\n"}});
    Import("org/tuned-q4", {{"README.md",
                             "---\nbase_model: ORG/Tuned\nbase_model_relation: "
                             "quantized\n---\n"},
                            {"model-Q4_K_M.gguf", "gguf"}});
    Import("org/tuned-lora",
           {{"README.md", "---\nbase_model: org/tuned\n---\n"}, {"adapter_config.json", "{}"}});
    Import("org/merged", {{"README.md", "---\nbase_model: [org/tuned, far/away]\n---\n"}});
  }

  void Import(const std::string& repo, const Files& files) {
    auto source = dir / ("src-" + repo.substr(repo.find('/') + 1));
    REQUIRE(ImportFiles(data, repo, source, files).exit_code == 0);
  }

  CommandResult Lineage(std::vector<std::string> args) {
    args.insert(args.begin(), {"lineage", "--data", data.string()});
    return RunHubmirror(args);
  }
};

TEST_CASE("hubmirror lineage prints the chain up and the family down", "[lineage]") {
  Family family;
  auto up = family.Lineage({"org/tuned-q4", "--up"});
  REQUIRE(up.exit_code == 0);
  CHECK(up.out ==
        "ancestors\n"
        "  org/tuned-q4\n"
        "    quantized of: org/tuned\n"
        "      finetune (inferred) of: org/root\n"
        "foundation: org/root\n");

  auto down = family.Lineage({"org/root", "--down"});
  REQUIRE(down.exit_code == 0);
  CHECK(down.out ==
        "descendants\n"
        "  org/root\n"
        "    finetune (inferred): org/tuned\n"
        "      merge (inferred): org/merged\n"
        "      adapter (inferred): org/tuned-lora\n"
        "      quantized: org/tuned-q4\n");

  auto merged = family.Lineage({"org/merged", "--up"});
  CHECK_THAT(merged.out, Catch::Contains("merge (inferred) of: far/away (not mirrored)"));
  CHECK_THAT(merged.out, Catch::EndsWith("foundation: far/away org/root\n"));

  auto quantized_only = family.Lineage({"org/root", "--down", "--relation", "finetune"});
  CHECK(quantized_only.out == "descendants\n  org/root\n    finetune (inferred): org/tuned\n");
  CHECK(family.Lineage({"org/root", "--down", "--depth", "1", "--format", "json"}).exit_code == 0);

  CHECK(family.Lineage({"nobody/nothing"}).exit_code == 1);
  CHECK(family.Lineage({"org/root", "--stats", "--format", "dot"}).exit_code == 2);
  CHECK(family.Lineage({"org/root", "--up", "--down"}).exit_code == 2);
  CHECK(family.Lineage({"org/root", "--relation", "cousin"}).exit_code == 2);
}

TEST_CASE("/api/lineage answers JSON and DOT; base_model filters list children", "[lineage]") {
  Family family;
  auto server = ServerProcess::Start(family.data);
  HttpClient client(server->port());

  auto response = client.Get("/api/lineage/models/org/tuned-q4?direction=up");
  REQUIRE(response.status == 200);
  json graph = json::parse(response.body);
  CHECK(graph["root"] == "org/tuned-q4");
  REQUIRE(graph["nodes"].size() == 3);
  CHECK(graph["nodes"][0] == json({{"id", "org/tuned-q4"},
                                   {"mirrored", true},
                                   {"pipeline_tag", nullptr},
                                   {"library_name", nullptr},
                                   {"downloads", 0}}));
  REQUIRE(graph["edges"].size() == 2);
  CHECK(graph["edges"][0] == json({{"child", "org/tuned"},
                                   {"parent", "org/root"},
                                   {"relation", "finetune"},
                                   {"source", "card"},
                                   {"inferred", true}}));
  CHECK(graph["edges"][1] ==
        json({{"child", "org/tuned-q4"},
              {"parent", "org/tuned"},  // as the node, not as the card spelt it
              {"relation", "quantized"},
              {"source", "card"},
              {"inferred", false}}));

  auto down = json::parse(client.Get("/api/lineage/models/org/root?direction=down").body);
  CHECK(down["edges"].size() == 4);
  auto one_level =
      json::parse(client.Get("/api/lineage/models/org/root?direction=down&depth=1").body);
  CHECK(one_level["edges"].size() == 1);
  auto merged = json::parse(client.Get("/api/lineage/models/org/merged?direction=up").body);
  bool absent_seen = false;
  for (const auto& node : merged["nodes"]) {
    if (node["id"] == "far/away") {
      absent_seen = true;
      CHECK(node["mirrored"] == false);
    }
  }
  CHECK(absent_seen);

  auto dot = client.Get("/api/lineage/models/org/root?direction=down&format=dot");
  REQUIRE(dot.status == 200);
  CHECK_THAT(dot.HeaderOr("Content-Type"), Catch::StartsWith("text/vnd.graphviz"));
  CHECK_THAT(dot.body, Catch::StartsWith("digraph lineage {"));
  CHECK_THAT(dot.body, Catch::Contains("\"org/tuned-q4\" -> \"org/tuned\" [label=\"quantized\"];"));
  CHECK_THAT(dot.body, Catch::Contains("\"org/tuned\" -> \"org/root\" [label=\"finetune?\"];"));
  auto merged_dot = client.Get("/api/lineage/models/org/merged?direction=up&format=dot");
  CHECK_THAT(merged_dot.body, Catch::Contains("\"far/away\" [style=dashed];"));

  auto children = json::parse(client.Get("/api/models?filter=base_model:quantized:ORG/Tuned").body);
  REQUIRE(children.size() == 1);
  CHECK(children[0]["id"] == "org/tuned-q4");

  for (const char* bad : {"?direction=sideways", "?format=svg", "?relation=cousin", "?depth=-1"}) {
    auto error = client.Get(std::string("/api/lineage/models/org/root") + bad);
    CHECK(error.status == 400);
    CHECK(error.HeaderOr("X-Error-Code") == "BadRequest");
  }
  auto unknown = client.Get("/api/lineage/models/nobody/nothing");
  CHECK(unknown.status == 404);
  CHECK(unknown.HeaderOr("X-Error-Code") == "RepoNotFound");
}

TEST_CASE("family statistics count relations, bytes stored and bytes shared with the base",
          "[lineage]") {
  Family family;
  // Distinct contents of the five repos: the root's config.json and the adapter's
  // adapter_config.json are both "{}", stored once and shared with the base.
  uint64_t stored =
      std::string("{}").size() + std::string("---\nbase_model: org/root\n---\n").size() +
      std::string("---\nbase_model: ORG/Tuned\nbase_model_relation: quantized\n---\n").size() +
      std::string("gguf").size() + std::string("---\nbase_model: org/tuned\n---\n").size() +
      std::string("---\nbase_model: [org/tuned, far/away]\n---\n").size();
  auto text = family.Lineage({"org/root", "--down", "--stats"});
  REQUIRE(text.exit_code == 0);
  CHECK_THAT(text.out, Catch::EndsWith("family of org/root: 5 models (5 mirrored), 1 adapter, "
                                       "1 finetune, 1 merge, 1 quantized\nbytes stored: " +
                                       std::to_string(stored) +
                                       ", shared with the base through deduplication: 2\n"));

  auto server = ServerProcess::Start(family.data);
  HttpClient client(server->port());
  auto response = client.Get("/api/lineage/models/org/tuned?direction=down&stats=true");
  REQUIRE(response.status == 200);
  json body = json::parse(response.body);
  CHECK(body["family"] == json({{"models", 4},
                                {"mirrored", 4},
                                {"relations", {{"adapter", 1}, {"merge", 1}, {"quantized", 1}}},
                                {"bytes_stored", stored},  // "{}" is the adapter's too
                                {"bytes_shared_with_base", 0}}));
  CHECK(body.count("roots") == 0);
  auto up = json::parse(client.Get("/api/lineage/models/org/merged?direction=up").body);
  CHECK(up["roots"] == json({"far/away", "org/root"}));
  auto limited =
      json::parse(client.Get("/api/lineage/models/org/merged?direction=up&depth=1").body);
  CHECK(limited.count("roots") == 0);
  CHECK(client.Get("/api/lineage/models/org/root?stats=true&format=dot").status == 400);
}

}  // namespace
}  // namespace hubmirror::testing
