// The lineage picture: labels and relations as SVG text, models not mirrored marked, links on
// nodes, and large families folded into "+N more" nodes.
#include "web/lineage_drawing.h"

#include <catch2/catch.hpp>

namespace hubmirror::web {
namespace {

LineageDrawing Drawing(const std::string& focus) {
  LineageDrawing drawing;
  drawing.focus = focus;
  drawing.node_url = [](const registry::LineageNode& node) { return "/node/" + node.id; };
  drawing.more_url = [](const std::string& parent) { return "/more/" + parent; };
  return drawing;
}

registry::LineageNode Model(const std::string& id, bool mirrored = true) {
  registry::LineageNode node;
  node.id = id;
  node.mirrored = mirrored;
  return node;
}

registry::LineageEdge Edge(const std::string& child, const std::string& parent,
                           const std::string& relation) {
  registry::LineageEdge edge;
  edge.child = child;
  edge.parent = parent;
  edge.relation = relation;
  edge.source = "card";
  return edge;
}

size_t Count(const std::string& text, const std::string& what) {
  size_t count = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++count;
  return count;
}

TEST_CASE("a family is drawn with its relations, links and unmirrored models", "[lineage]") {
  registry::LineageGraph graph;
  graph.nodes = {Model("acme/base"), Model("acme/ft"), Model("acme/q"), Model("ext/other", false)};
  graph.edges = {Edge("acme/ft", "acme/base", "finetune"), Edge("acme/q", "acme/ft", "quantized"),
                 Edge("acme/q", "ext/other", "merge")};
  auto drawn = DrawLineage(graph, Drawing("acme/base"));
  REQUIRE(drawn.ok());
  const std::string& svg = drawn->svg;
  CHECK(svg.starts_with("<svg"));
  for (const char* label :
       {">acme/base</text>", ">acme/ft</text>", ">acme/q</text>", ">ext/other</text>",
        ">not mirrored</text>", ">finetune</text>", ">quantized</text>", ">merge</text>"}) {
    INFO(label);
    CHECK(Count(svg, label) == 1);
  }
  CHECK(Count(svg, "class=\"edge\"") == 3);
  CHECK_THAT(svg, Catch::Contains("xlink:href=\"/node/acme/ft\""));
  CHECK(drawn->models_drawn == 4);
  CHECK(drawn->models_hidden == 0);
}

TEST_CASE("hundreds of children fold into one node per relation", "[lineage]") {
  registry::LineageGraph graph;
  graph.nodes.push_back(Model("acme/base"));
  for (int i = 0; i < 300; ++i) {
    std::string child = "acme/child-" + std::to_string(1000 + i);
    graph.nodes.push_back(Model(child));
    graph.edges.push_back(Edge(child, "acme/base", i % 3 == 0 ? "adapter" : "finetune"));
  }
  LineageDrawing drawing = Drawing("acme/base");
  auto folded = DrawLineage(graph, drawing);
  REQUIRE(folded.ok());
  CHECK(folded->models_drawn == 1 + 2 * drawing.max_children);
  CHECK(folded->models_hidden == 300 - 2 * drawing.max_children);
  CHECK(Count(folded->svg, ">+88 more</text>") == 1);   // adapters: 100 - 12
  CHECK(Count(folded->svg, ">+188 more</text>") == 1);  // finetunes: 200 - 12
  CHECK_THAT(folded->svg, Catch::Contains("xlink:href=\"/more/acme/base\""));

  drawing.max_children = 0;
  drawing.max_nodes = 50;
  auto capped = DrawLineage(graph, drawing);
  REQUIRE(capped.ok());
  CHECK(capped->models_drawn == 50);
  CHECK(capped->models_hidden == 251);
}

TEST_CASE("cycles and a node met twice draw each edge once", "[lineage]") {
  registry::LineageGraph graph;
  graph.nodes = {Model("a/x"), Model("a/y")};
  graph.edges = {Edge("a/x", "a/y", "finetune"), Edge("a/y", "a/x", "merge")};
  auto drawn = DrawLineage(graph, Drawing("a/x"));
  REQUIRE(drawn.ok());
  CHECK(Count(drawn->svg, "class=\"edge\"") == 2);
}

}  // namespace
}  // namespace hubmirror::web
