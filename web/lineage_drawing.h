#pragma once

#include <functional>
#include <string>

#include "common/status.h"
#include "registry/registry.h"

namespace hubmirror::web {

// What a lineage picture shows of a graph, and how.
struct LineageDrawing {
  std::string focus;  // the model the picture is about, drawn highlighted
  // Children of one parent by one relation drawn at most; the others are one "+N more" node.
  // 0: every child.
  size_t max_children = 12;
  // Models drawn at most, whatever max_children says: past it, the rest is collapsed likewise.
  size_t max_nodes = 150;
  // The address a model's node links to (its page, or its lineage when it is not mirrored),
  // and the one a "+N more" node of `parent` links to.
  std::function<std::string(const registry::LineageNode& node)> node_url;
  std::function<std::string(const std::string& parent)> more_url;
};

// A lineage picture: inline SVG, and how much of the graph it shows.
struct DrawnLineage {
  std::string svg;           // an <svg> element, without XML declaration or doctype
  size_t models_drawn = 0;   // models with a node of their own
  size_t models_hidden = 0;  // models folded into "+N more" nodes
};

// Lays the graph out with Graphviz's dot (parents above children, edges from child to parent
// labelled with the relation; models not mirrored here dashed and marked "not mirrored") and
// renders it as SVG whose node labels are <text> elements and whose nodes are links. Walks out
// from the focus, so a family of thousands stays a picture of at most max_nodes. kInternal when
// Graphviz fails; kIoError when other pictures kept it busy for a second. Thread-safe:
// Graphviz keeps global state, so layouts run one at a time; pictures drawn lately are kept.
Result<DrawnLineage> DrawLineage(const registry::LineageGraph& graph,
                                 const LineageDrawing& drawing);

}  // namespace hubmirror::web
