#include <catch2/catch.hpp>
#include <cctype>
#include <chrono>
#include <random>
#include <thread>

#include "registry/lineage_index.h"
#include "registry/registry.h"
#include "tests/registry/registry_test_support.h"

namespace hubmirror::registry::testing {
namespace {

TEST_CASE("lineage edges: parents, child counts, and re-publication replaces card edges",
          "[registry]") {
  TempDir dir;
  auto registry = OpenRegistry(dir);
  NewRevision rev = Revision("acme/merge", std::string(40, '1'), "", {});
  rev.lineage = {LineageEdge{"acme/merge", "a/one", "merge", "card", false},
                 LineageEdge{"acme/merge", "B/Two", "merge", "card", false}};
  REQUIRE(registry->PublishRevision(rev).ok());
  auto parents = registry->ParentEdges("ACME/merge");
  REQUIRE(parents->size() == 2);
  CHECK((*parents)[1].parent == "B/Two");
  CHECK(registry->ChildCountsByRelation("b/two")->at("merge") == 1);

  NewRevision next = Revision("acme/merge", std::string(40, '2'), std::string(40, '1'), {});
  next.lineage = {LineageEdge{"acme/merge", "a/one", "finetune", "card", true}};
  REQUIRE(registry->PublishRevision(next).ok());
  parents = registry->ParentEdges("acme/merge");
  REQUIRE(parents->size() == 1);
  CHECK((*parents)[0].relation == "finetune");
  CHECK((*parents)[0].inferred);
  CHECK(registry->ChildCountsByRelation("b/two")->empty());
}

// Publishes `child` with these card edges (parent, relation).
void PublishWithParents(Registry& registry, const std::string& child, char commit,
                        std::vector<std::pair<std::string, std::string>> parents) {
  NewRevision rev = Revision(child, std::string(40, commit), "", {});
  for (const auto& [parent, relation] : parents) {
    rev.lineage.push_back(LineageEdge{child, parent, relation, "card", false});
  }
  REQUIRE(registry.PublishRevision(rev).ok());
}

std::vector<std::string> EdgeList(const LineageGraph& graph) {
  std::vector<std::string> out;
  for (const auto& e : graph.edges) out.push_back(e.child + ">" + e.parent + ":" + e.relation);
  return out;
}

TEST_CASE("lineage: chains, adapters, merges, depth and relation filters", "[lineage]") {
  TempDir dir;
  auto registry = OpenRegistry(dir);
  PublishWithParents(*registry, "org/base", '1', {});
  PublishWithParents(*registry, "org/tuned", '2', {{"org/base", "finetune"}});
  PublishWithParents(*registry, "org/tuned-q4", '3', {{"org/tuned", "quantized"}});
  PublishWithParents(*registry, "org/tuned-lora", '4', {{"org/tuned", "adapter"}});
  PublishWithParents(*registry, "org/merged", '5',
                     {{"org/tuned", "merge"}, {"other/absent", "merge"}});

  auto up = registry->Lineage("ORG/TUNED-Q4", LineageDirection::kUp, 0, "");
  REQUIRE(up.ok());
  CHECK(EdgeList(*up) == std::vector<std::string>{"org/tuned>org/base:finetune",
                                                  "org/tuned-q4>org/tuned:quantized"});
  REQUIRE(up->nodes.size() == 3);
  CHECK(up->nodes[0].id == "org/tuned-q4");  // the model first, with its published case
  CHECK(up->nodes[0].mirrored);

  auto merged = registry->Lineage("org/merged", LineageDirection::kUp, 0, "");
  CHECK(EdgeList(*merged).size() == 3);  // both parents, then the base of one of them
  bool absent_listed = false;
  for (const auto& node : merged->nodes) {
    if (node.id == "other/absent") {
      absent_listed = true;
      CHECK_FALSE(node.mirrored);  // known, not mirrored
    }
  }
  CHECK(absent_listed);

  auto down = registry->Lineage("org/base", LineageDirection::kDown, 0, "");
  CHECK(EdgeList(*down).size() == 4);
  CHECK(registry->Lineage("org/base", LineageDirection::kDown, 1, "")->edges.size() == 1);
  auto quantized = registry->Lineage("org/tuned", LineageDirection::kDown, 0, "quantized");
  CHECK(EdgeList(*quantized) == std::vector<std::string>{"org/tuned-q4>org/tuned:quantized"});
  auto both = registry->Lineage("org/tuned", LineageDirection::kBoth, 0, "");
  CHECK(both->edges.size() == 4);
  auto unknown = registry->Lineage("nobody/nothing", LineageDirection::kBoth, 0, "");
  CHECK(unknown->edges.empty());
  REQUIRE(unknown->nodes.size() == 1);
  CHECK_FALSE(unknown->nodes[0].mirrored);
}

TEST_CASE("lineage: cycles and self-references terminate", "[lineage]") {
  TempDir dir;
  auto registry = OpenRegistry(dir);
  PublishWithParents(*registry, "a/one", '1', {{"a/two", "finetune"}});
  PublishWithParents(*registry, "a/two", '2', {{"A/Three", "finetune"}});
  PublishWithParents(*registry, "a/three", '3', {{"a/one", "finetune"}, {"a/three", "merge"}});
  for (auto direction : {LineageDirection::kUp, LineageDirection::kDown, LineageDirection::kBoth}) {
    auto graph = registry->Lineage("a/one", direction, 0, "");
    REQUIRE(graph.ok());
    CHECK(graph->edges.size() == 4);
    CHECK(graph->nodes.size() == 3);
  }
}

TEST_CASE("the in-memory lineage index answers exactly as the SQL walk", "[lineage]") {
  TempDir dir;
  auto registry = OpenRegistry(dir);
  // A small dense graph with everything real cards contain: chains, merges, cycles,
  // self-references, several relations, and ids spelt in several cases.
  std::mt19937 random(7);
  const std::vector<std::string> relations = {"finetune", "adapter", "quantized", "merge"};
  auto spelt = [&](int model) {
    std::string id = "org/m" + std::to_string(model);
    if (random() % 4 == 0) id[random() % id.size()] = static_cast<char>(std::toupper(id[0]));
    if (random() % 5 == 0) id = "ORG/M" + std::to_string(model);
    return id;
  };
  std::vector<LineageEdge> edges;
  for (int child = 0; child < 60; ++child) {
    for (int k = 0, parents = static_cast<int>(random() % 3); k < parents; ++k) {
      int parent = static_cast<int>(random() % 60);
      edges.push_back(LineageEdge{spelt(child), spelt(parent), relations[random() % 4],
                                  random() % 2 ? "card" : "listing", random() % 2 == 0});
    }
  }
  REQUIRE(registry->AddLineageEdges(edges).ok());
  std::vector<ModelDetails> details;
  for (int model = 0; model < 60; model += 3) {
    details.push_back({"Org/M" + std::to_string(model), "text-generation", "transformers", model});
  }
  REQUIRE(registry->RecordModelDetails(details).ok());
  REQUIRE(registry->PublishRevision(Revision("org/m7", std::string(40, 'a'), "", {})).ok());

  auto index = LineageIndex::Build(*registry);
  REQUIRE(index.ok());
  CHECK((*index)->generation() == registry->LineageGeneration().value());
  size_t compared_edges = 0;
  for (int model = 0; model < 62; ++model) {
    std::string id = model % 2 ? "org/m" + std::to_string(model) : "ORG/m" + std::to_string(model);
    for (auto direction :
         {LineageDirection::kUp, LineageDirection::kDown, LineageDirection::kBoth}) {
      for (int depth : {0, 1, 2}) {
        for (std::string relation : {"", "merge", "quantized", "unknown"}) {
          INFO(id << " direction " << static_cast<int>(direction) << " depth " << depth
                  << " relation '" << relation << "'");
          auto sql = registry->Lineage(id, direction, depth, relation);
          REQUIRE(sql.ok());
          LineageGraph memory = (*index)->Lineage(id, direction, depth, relation);
          REQUIRE(memory.nodes.size() == sql->nodes.size());
          for (size_t n = 0; n < memory.nodes.size(); ++n) {
            const LineageNode& a = memory.nodes[n];
            const LineageNode& b = sql->nodes[n];
            CHECK(std::tie(a.id, a.mirrored, a.pipeline_tag, a.library_name, a.downloads,
                           a.described) == std::tie(b.id, b.mirrored, b.pipeline_tag,
                                                    b.library_name, b.downloads, b.described));
          }
          REQUIRE(memory.edges.size() == sql->edges.size());
          for (size_t e = 0; e < memory.edges.size(); ++e) {
            const LineageEdge& a = memory.edges[e];
            const LineageEdge& b = sql->edges[e];
            CHECK(std::tie(a.child, a.parent, a.relation, a.source, a.inferred) ==
                  std::tie(b.child, b.parent, b.relation, b.source, b.inferred));
          }
          compared_edges += memory.edges.size();
          CHECK(memory.roots == sql->roots);
        }
      }
    }
  }
  CHECK(compared_edges > 1000);  // the walks found something to compare

  // The cache hands out an index only once it reflects the database's generation.
  LineageIndexCache cache(dir / "registry.db");
  int64_t generation = registry->LineageGeneration().value();
  std::shared_ptr<const LineageIndex> current;
  for (int i = 0; i < 500 && current == nullptr; ++i) {
    current = cache.Current(generation);
    if (current == nullptr) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE(current != nullptr);
  REQUIRE(
      registry->AddLineageEdges({LineageEdge{"org/new", "org/m1", "adapter", "card", false}}).ok());
  CHECK(registry->LineageGeneration().value() > generation);
  CHECK(cache.Current(registry->LineageGeneration().value()) == nullptr);
}

}  // namespace
}  // namespace hubmirror::registry::testing
