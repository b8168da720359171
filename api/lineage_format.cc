#include "api/lineage_format.h"

#include <functional>
#include <map>
#include <set>

#include "common/names.h"

namespace hubmirror::api {
namespace {

std::string DotQuoted(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += (static_cast<unsigned char>(c) < 0x20) ? ' ' : c;
  }
  return out + "\"";
}

}  // namespace

nlohmann::json LineageJson(const registry::LineageGraph& graph) {
  nlohmann::json nodes = nlohmann::json::array();
  for (const auto& node : graph.nodes) {
    nlohmann::json item = {{"id", node.id}, {"mirrored", node.mirrored}};
    if (node.described) {
      auto optional = [](const std::string& text) {
        return text.empty() ? nlohmann::json() : nlohmann::json(text);
      };
      item["pipeline_tag"] = optional(node.pipeline_tag);
      item["library_name"] = optional(node.library_name);
      item["downloads"] = node.downloads;
    }
    nodes.push_back(std::move(item));
  }
  nlohmann::json edges = nlohmann::json::array();
  for (const auto& edge : graph.edges) {
    edges.push_back({{"child", edge.child},
                     {"parent", edge.parent},
                     {"relation", edge.relation},
                     {"source", edge.source},
                     {"inferred", edge.inferred}});
  }
  nlohmann::json result = {{"root", graph.nodes.empty() ? "" : graph.nodes.front().id},
                           {"nodes", nodes},
                           {"edges", edges}};
  if (!graph.roots.empty()) result["roots"] = graph.roots;
  return result;
}

std::string LineageDot(const registry::LineageGraph& graph) {
  std::string dot = "digraph lineage {\n  rankdir=BT;\n";
  for (const auto& node : graph.nodes) {
    dot += "  " + DotQuoted(node.id) + (node.mirrored ? "" : " [style=dashed]") + ";\n";
  }
  for (const auto& edge : graph.edges) {
    dot += "  " + DotQuoted(edge.child) + " -> " + DotQuoted(edge.parent) +
           " [label=" + DotQuoted(edge.relation + (edge.inferred ? "?" : "")) + "];\n";
  }
  return dot + "}\n";
}

std::string LineageText(const registry::LineageGraph& graph, registry::LineageDirection direction) {
  if (graph.nodes.empty()) return "";
  std::map<std::string, const registry::LineageNode*> nodes;
  for (const auto& node : graph.nodes) nodes[AsciiLower(node.id)] = &node;
  // Neighbours in each direction: up follows child -> parent, down parent -> child.
  std::multimap<std::string, const registry::LineageEdge*> parents, children;
  for (const auto& edge : graph.edges) {
    parents.emplace(AsciiLower(edge.child), &edge);
    children.emplace(AsciiLower(edge.parent), &edge);
  }
  std::string out;
  std::set<std::string> shown;
  std::function<void(const std::string&, const std::string&, int, bool)> walk =
      [&](const std::string& lower, const std::string& label, int depth, bool up) {
        const registry::LineageNode* node = nodes.count(lower) ? nodes[lower] : nullptr;
        std::string name = node != nullptr ? node->id : lower;
        out += std::string(2 * depth, ' ') + label + name;
        if (node != nullptr && !node->mirrored) out += " (not mirrored)";
        if (!shown.insert(lower + (up ? "^" : "v")).second) {
          out += " (see above)\n";
          return;
        }
        out += "\n";
        auto& next = up ? parents : children;
        auto range = next.equal_range(lower);
        for (auto it = range.first; it != range.second; ++it) {
          const registry::LineageEdge& edge = *it->second;
          std::string relation = edge.relation + (edge.inferred ? " (inferred)" : "");
          std::string arrow = up ? relation + " of: " : relation + ": ";
          walk(AsciiLower(up ? edge.parent : edge.child), arrow, depth + 1, up);
        }
      };
  std::string root = AsciiLower(graph.nodes.front().id);
  if (direction != registry::LineageDirection::kDown) {
    out += "ancestors\n";
    walk(root, "", 1, true);
    if (!graph.roots.empty()) {
      out += "foundation:";
      for (const auto& id : graph.roots) out += " " + id;
      out += "\n";
    }
  }
  if (direction != registry::LineageDirection::kUp) {
    out += "descendants\n";
    walk(root, "", 1, false);
  }
  return out;
}

nlohmann::json FamilyJson(const registry::FamilyStats& family) {
  return {{"models", family.models},
          {"mirrored", family.mirrored},
          {"relations", family.relations},
          {"bytes_stored", family.bytes_stored},
          {"bytes_shared_with_base", family.bytes_shared_with_base}};
}

std::string FamilyText(const std::string& model, const registry::FamilyStats& family) {
  std::string out = "family of " + model + ": " + std::to_string(family.models) + " models (" +
                    std::to_string(family.mirrored) + " mirrored)";
  for (const auto& [relation, count] : family.relations) {
    out += ", " + std::to_string(count) + " " + relation;
  }
  return out + "\nbytes stored: " + std::to_string(family.bytes_stored) +
         ", shared with the base through deduplication: " +
         std::to_string(family.bytes_shared_with_base) + "\n";
}

}  // namespace hubmirror::api
