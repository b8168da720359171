#include "web/lineage_drawing.h"

#include <graphviz/cgraph.h>
#include <graphviz/gvc.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>

#include "common/digest.h"

namespace hubmirror::web {
namespace {

// A string as a quoted DOT ID (and label: backslashes would start Graphviz's escapes).
std::string DotQuoted(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n' || c == '\r') continue;
    out += c;
  }
  return out + "\"";
}

// A label of two lines (Graphviz's "\n" between them), each quoted as DotQuoted does.
std::string DotTwoLines(std::string_view first, std::string_view second) {
  std::string quoted = DotQuoted(first);
  quoted.pop_back();
  return quoted + "\\n" + DotQuoted(second).substr(1);
}

// The part of the graph drawn: models with their own node, and per (parent, relation) the
// children folded into one "+N more" node.
struct Selection {
  std::set<std::string> drawn;
  std::vector<const registry::LineageEdge*> edges;
  std::map<std::pair<std::string, std::string>, size_t> folded;  // (parent, relation) -> count
};

Selection Select(const registry::LineageGraph& graph, const LineageDrawing& drawing) {
  std::map<std::string, std::vector<const registry::LineageEdge*>> parents_of;
  std::map<std::string, std::vector<const registry::LineageEdge*>> children_of;
  for (const auto& edge : graph.edges) {
    parents_of[edge.child].push_back(&edge);
    children_of[edge.parent].push_back(&edge);
  }
  Selection selection;
  std::set<const registry::LineageEdge*> taken;  // an edge is met from both of its ends
  auto take = [&](const registry::LineageEdge* edge) {
    if (taken.insert(edge).second) selection.edges.push_back(edge);
  };
  std::vector<const registry::LineageEdge*> not_followed;
  std::deque<std::string> queue;
  auto draw = [&](const std::string& id) {
    if (selection.drawn.contains(id)) return true;
    if (selection.drawn.size() >= drawing.max_nodes) return false;
    selection.drawn.insert(id);
    queue.push_back(id);
    return true;
  };
  draw(drawing.focus.empty() ? graph.nodes.front().id : drawing.focus);
  while (!queue.empty()) {
    std::string id = queue.front();
    queue.pop_front();
    for (const auto* edge : parents_of[id]) {
      if (draw(edge->parent)) take(edge);
    }
    std::map<std::string, size_t> shown;  // children drawn here, by relation
    for (const auto* edge : children_of[id]) {
      bool room = drawing.max_children == 0 || shown[edge->relation] < drawing.max_children ||
                  selection.drawn.contains(edge->child);
      if (room && draw(edge->child)) {
        ++shown[edge->relation];
        take(edge);
      } else {
        not_followed.push_back(edge);
      }
    }
  }
  // A child left out under one parent may have been drawn by way of another (merges).
  for (const auto* edge : not_followed) {
    if (selection.drawn.contains(edge->child)) {
      take(edge);
    } else if (!taken.contains(edge)) {
      ++selection.folded[{edge->parent, edge->relation}];
    }
  }
  return selection;
}

std::string DotSource(const registry::LineageGraph& graph, const LineageDrawing& drawing,
                      const Selection& selection) {
  std::string dot =
      "digraph lineage {\n"
      "graph [rankdir=BT, bgcolor=\"transparent\", nodesep=0.2, ranksep=0.45, "
      "fontname=\"sans-serif\"];\n"
      "node [shape=box, style=\"rounded,filled\", fillcolor=\"#ffffff\", color=\"#44546a\", "
      "fontname=\"sans-serif\", fontsize=11, height=0.3, margin=\"0.12,0.04\"];\n"
      "edge [fontname=\"sans-serif\", fontsize=9, color=\"#6b7a90\", arrowsize=0.6];\n";
  for (const auto& node : graph.nodes) {
    if (!selection.drawn.contains(node.id)) continue;
    bool focus = node.id == drawing.focus;
    std::string label = node.mirrored ? DotQuoted(node.id) : DotTwoLines(node.id, "not mirrored");
    dot += DotQuoted(node.id) + " [label=" + label + ", URL=" + DotQuoted(drawing.node_url(node)) +
           ", tooltip=" + DotQuoted(node.id);
    if (!node.mirrored) dot += ", style=\"rounded,dashed,filled\", fillcolor=\"#f4f5f7\"";
    if (focus) dot += ", penwidth=2, fillcolor=\"#e6f0ff\", fontname=\"sans-serif bold\"";
    dot += "];\n";
  }
  for (const auto* edge : selection.edges) {
    dot += DotQuoted(edge->child) + " -> " + DotQuoted(edge->parent) +
           " [label=" + DotQuoted(edge->relation) + "];\n";
  }
  for (const auto& [key, count] : selection.folded) {
    const auto& [parent, relation] = key;
    std::string name = "+" + std::to_string(count) + " more " + relation + " of " + parent;
    dot += DotQuoted(name) + " [label=" + DotQuoted("+" + std::to_string(count) + " more") +
           ", URL=" + DotQuoted(drawing.more_url(parent)) + ", tooltip=" + DotQuoted(name) +
           ", style=\"rounded,dotted\"];\n";
    dot += DotQuoted(name) + " -> " + DotQuoted(parent) + " [label=" + DotQuoted(relation) +
           ", style=dotted];\n";
  }
  return dot + "}\n";
}

// Graphviz keeps global state (its error level, layout tables): one layout at a time. A page
// waits at most kLayoutWait for its turn, so that requests for many different pictures at once
// cannot hold the server's threads.
std::timed_mutex graphviz_mutex;
constexpr std::chrono::milliseconds kLayoutWait{1000};

// Graphviz's warnings and errors: dropped (a failure is known by its return code). Without a
// handler, Graphviz would print them, or keep them in a temporary file that only grows.
int DiscardGraphvizMessage(char*) { return 0; }

// Pictures drawn lately, by the SHA-256 of their DOT source, which holds everything they show: a
// model's page is laid out once per change of what it draws, not once per view. Thread-safe.
class DrawnPictures {
 public:
  static constexpr size_t kMaxPictures = 64;

  std::optional<std::string> Find(const std::string& key) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = pictures_.find(key);
    if (found == pictures_.end()) return std::nullopt;
    found->second.last_use = ++uses_;
    return found->second.svg;
  }

  void Add(const std::string& key, const std::string& svg) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (pictures_.size() >= kMaxPictures) {
      auto oldest = std::min_element(pictures_.begin(), pictures_.end(), [](auto& a, auto& b) {
        return a.second.last_use < b.second.last_use;
      });
      pictures_.erase(oldest);
    }
    pictures_[key] = {svg, ++uses_};
  }

 private:
  struct Picture {
    std::string svg;
    uint64_t last_use = 0;
  };
  std::mutex mutex_;
  std::map<std::string, Picture> pictures_;  // guarded by mutex_
  uint64_t uses_ = 0;                        // guarded by mutex_
};

Result<std::string> Layout(const std::string& dot) {
  std::unique_lock<std::timed_mutex> lock(graphviz_mutex, kLayoutWait);
  if (!lock.owns_lock())
    return IoError("other lineage pictures are being drawn; try again shortly");
  static GVC_t* context = [] {
    agseterr(AGWARN);
    agseterrf(DiscardGraphvizMessage);
    return gvContext();
  }();
  if (context == nullptr) return Internal("Graphviz could not start");
  Agraph_t* graph = agmemread(dot.c_str());
  if (graph == nullptr) return Internal("Graphviz could not read the lineage graph");
  if (gvLayout(context, graph, "dot") != 0) {
    agclose(graph);
    return Internal("Graphviz could not lay out the lineage graph");
  }
  char* data = nullptr;
  unsigned int length = 0;
  int rendered = gvRenderData(context, graph, "svg", &data, &length);
  std::string svg = rendered == 0 && data != nullptr ? std::string(data, length) : "";
  gvFreeRenderData(data);
  gvFreeLayout(context, graph);
  agclose(graph);
  if (svg.empty()) return Internal("Graphviz could not draw the lineage graph");
  return svg;
}

Result<std::string> Render(const std::string& dot) {
  static DrawnPictures drawn;
  std::string key = Sha256Hex(dot);
  if (auto svg = drawn.Find(key)) return std::move(*svg);
  auto svg = Layout(dot);
  if (svg.ok()) drawn.Add(key, *svg);
  return svg;
}

}  // namespace

Result<DrawnLineage> DrawLineage(const registry::LineageGraph& graph,
                                 const LineageDrawing& drawing) {
  if (graph.nodes.empty()) return DrawnLineage{};
  Selection selection = Select(graph, drawing);
  auto svg = Render(DotSource(graph, drawing, selection));
  if (!svg.ok()) return svg.status();
  DrawnLineage drawn;
  // The page holds the <svg> element itself: no XML declaration, doctype or comments before it.
  size_t start = svg->find("<svg");
  drawn.svg = start == std::string::npos ? "" : svg->substr(start);
  drawn.models_drawn = selection.drawn.size();
  for (const auto& [key, count] : selection.folded) drawn.models_hidden += count;
  return drawn;
}

}  // namespace hubmirror::web
