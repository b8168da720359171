#include "sync/model_card.h"

#include <catch2/catch.hpp>

namespace hubmirror::sync {
namespace {

using nlohmann::json;

TEST_CASE("front matter parsing", "[card]") {
  struct Case {
    std::string readme;
    bool ok;
    json expected;
  };
  auto c = GENERATE(values<Case>({
      {"# no front matter\n", true, nullptr},
      {"", true, nullptr},
      {"---\nlicense: mit\n---\n# Title\n", true, {{"license", "mit"}}},
      {"---\r\nlicense: mit\r\n---\r\nbody", true, {{"license", "mit"}}},
      {"---\n---\n", true, json::object()},
      {"---\nbase_model: org/a\nbase_model_relation: quantized\n---\n",
       true,
       {{"base_model", "org/a"}, {"base_model_relation", "quantized"}}},
      {"---\nbase_model:\n- org/a\n- org/b\n---\n", true, {{"base_model", {"org/a", "org/b"}}}},
      {"---\nn: 3\nf: 0.5\nb: true\nq: '3'\nz: null\n---\n",
       true,
       {{"n", 3}, {"f", 0.5}, {"b", true}, {"q", "3"}, {"z", nullptr}}},
      {"---\nnested:\n  list: [1, two]\n---\n", true, {{"nested", {{"list", {1, "two"}}}}}},
      {"---\nlicense: mit\n", false, nullptr},           // never closed
      {"---\n- just\n- a list\n---\n", false, nullptr},  // not a mapping
      {"---\nkey: [unclosed\n---\n", false, nullptr},    // invalid YAML
      {"--- \nlicense: mit\n---\n", true, nullptr},      // not a front matter opener
  }));
  INFO("readme: " << c.readme);
  auto parsed = ParseFrontMatter(c.readme);
  REQUIRE(parsed.ok() == c.ok);
  if (c.ok) CHECK(*parsed == c.expected);
}

TEST_CASE("front matter nesting is bounded", "[card]") {
  std::string deep = "---\nk: ";
  for (int i = 0; i < 200; ++i) deep += "[";
  for (int i = 0; i < 200; ++i) deep += "]";
  deep += "\n---\n";
  auto parsed = ParseFrontMatter(deep);
  CHECK_FALSE(parsed.ok());
}

TEST_CASE("card info: tags and lineage like the Hub", "[card]") {
  SECTION("explicit relation, string base model") {
    json card = {{"base_model", "Org/Base"},          {"base_model_relation", "quantized"},
                 {"license", "apache-2.0"},           {"library_name", "transformers"},
                 {"pipeline_tag", "text-generation"}, {"tags", {"chat"}},
                 {"datasets", {"org/data"}},          {"language", "en"}};
    CardInfo info = DeriveCardInfo("me/quant", card, {"model.safetensors"});
    CHECK(info.pipeline_tag == "text-generation");
    CHECK(info.library_name == "transformers");
    CHECK(info.tags == std::vector<std::string>{"transformers", "safetensors", "chat",
                                                "text-generation", "en", "dataset:org/data",
                                                "license:apache-2.0", "base_model:Org/Base",
                                                "base_model:quantized:Org/Base"});
    REQUIRE(info.lineage.size() == 1);
    CHECK(info.lineage[0].child == "me/quant");
    CHECK(info.lineage[0].parent == "Org/Base");
    CHECK(info.lineage[0].relation == "quantized");
    CHECK_FALSE(info.lineage[0].inferred);
  }
  SECTION("inferred relations") {
    auto relation = [](json card, std::vector<std::string> files) {
      CardInfo info = DeriveCardInfo("me/x", card, files);
      REQUIRE(!info.lineage.empty());
      CHECK(info.lineage[0].inferred);
      return info.lineage[0].relation;
    };
    CHECK(relation({{"base_model", {"a/one", "b/two"}}}, {}) == "merge");
    CHECK(relation({{"base_model", "a/one"}}, {"model-Q4_K_M.gguf"}) == "quantized");
    CHECK(relation({{"base_model", "a/one"}, {"tags", {"gptq"}}}, {}) == "quantized");
    CHECK(relation({{"base_model", "a/one"}}, {"adapter_config.json"}) == "adapter");
    CHECK(relation({{"base_model", "a/one"}, {"library_name", "peft"}}, {}) == "adapter");
    CHECK(relation({{"base_model", "a/one"}}, {"model.safetensors"}) == "finetune");
  }
  SECTION("invalid, self and unknown values are reported and skipped") {
    json card = {{"base_model", {"not a valid id", "me/x", "ok/parent"}},
                 {"base_model_relation", "cousin"}};
    CardInfo info = DeriveCardInfo("Me/X", card, {});
    REQUIRE(info.lineage.size() == 1);
    CHECK(info.lineage[0].parent == "ok/parent");
    CHECK(info.lineage[0].relation == "finetune");
    CHECK(info.lineage[0].inferred);
    CHECK(info.warnings.size() == 3);
  }
  SECTION("no card") {
    CardInfo info = DeriveCardInfo("me/x", nullptr, {});
    CHECK(info.tags.empty());
    CHECK(info.lineage.empty());
  }
}

TEST_CASE("upstream lineage: baseModels as stated, else the card with the upstream's tags",
          "[model_card]") {
  json card = {{"base_model", {"a/one", "b/two"}}};
  SECTION("the card, with relations from base_model:RELATION:ID tags") {
    auto edges = UpstreamLineage("me/x", card, {"base_model:quantized:a/one"}, std::nullopt, {});
    REQUIRE(edges.size() == 2);
    CHECK(edges[0].parent == "a/one");
    CHECK(edges[0].relation == "quantized");
    CHECK_FALSE(edges[0].inferred);
    CHECK(edges[1].relation == "merge");
    CHECK(edges[1].inferred);
    CHECK(edges[1].source == "card");
  }
  SECTION("the upstream's baseModels win over the card") {
    BaseModels given{"adapter", {"c/three", "not valid", "ME/X"}};
    auto edges = UpstreamLineage("me/x", card, {}, given, {});
    REQUIRE(edges.size() == 1);
    CHECK(edges[0].parent == "c/three");
    CHECK(edges[0].relation == "adapter");
    CHECK_FALSE(edges[0].inferred);
    CHECK(edges[0].source == "baseModels");
  }
  SECTION("a relation this mirror does not know is kept as unknown") {
    auto edges = UpstreamLineage("me/x", nullptr, {}, BaseModels{"distilled", {"c/three"}}, {});
    REQUIRE(edges.size() == 1);
    CHECK(edges[0].relation == "unknown");
  }
}

}  // namespace
}  // namespace hubmirror::sync
