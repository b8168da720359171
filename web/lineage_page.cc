// A model's lineage drawn (`/-/lineage/{id}`): ancestors up to the foundation models and
// descendants, with a table of every edge as the picture's text alternative.
#include <map>

#include "api/access.h"
#include "web/lineage_drawing.h"
#include "web/page_handlers.h"

namespace hubmirror::web {
namespace {

constexpr int kDefaultDepth = 3;
constexpr int kMaxDepth = 10;

std::string ModelLink(const registry::LineageNode* node, const std::string& id) {
  if (node != nullptr && node->mirrored) {
    return "<a href=\"" + RepoPageUrl(RepoType::kModel, id) + "\">" + Escape(id) + "</a>";
  }
  return "<a href=\"" + LineagePageUrl(id) + "\">" + Escape(id) +
         "</a> <span class=\"badge absent\">not mirrored</span>";
}

std::string Controls(const std::string& id, int depth, const std::string& direction, bool all) {
  std::string html = "<form id=\"lineage-controls\" method=\"get\" action=\"" + LineagePageUrl(id) +
                     "\"><label>Depth <select name=\"depth\">";
  for (int level = 1; level <= kMaxDepth; ++level) {
    html += "<option" + std::string(level == depth ? " selected" : "") + ">" +
            std::to_string(level) + "</option>";
  }
  html += "</select></label><label>Show <select name=\"direction\">";
  for (auto [value, text] : {std::pair{"both", "ancestors and descendants"},
                             std::pair{"up", "ancestors"}, std::pair{"down", "descendants"}}) {
    html += "<option value=\"" + std::string(value) + "\"" +
            (direction == value ? " selected" : "") + ">" + text + "</option>";
  }
  html += "</select></label><label><input type=\"checkbox\" name=\"all\" value=\"1\"" +
          std::string(all ? " checked" : "") +
          "> every child (no collapse)</label><button type=\"submit\">Draw</button></form>";
  return html;
}

}  // namespace

Response LineagePage(const RequestContext& context) {
  const std::string& id = context.route.repo;
  auto asked = api::IntegerParam(context.route.query, "depth");
  if (!asked.ok() || asked->value_or(kDefaultDepth) < 1 ||
      asked->value_or(kDefaultDepth) > kMaxDepth) {
    return ErrorPage(context, http::status::bad_request,
                     "depth must be from 1 to " + std::to_string(kMaxDepth));
  }
  int depth = static_cast<int>(asked->value_or(kDefaultDepth));
  std::string direction = PageParam(context, "direction");
  if (direction.empty()) direction = "both";
  registry::LineageDirection walk = registry::LineageDirection::kBoth;
  if (direction == "up") {
    walk = registry::LineageDirection::kUp;
  } else if (direction == "down") {
    walk = registry::LineageDirection::kDown;
  } else if (direction != "both") {
    return ErrorPage(context, http::status::bad_request, "direction must be both, up or down");
  }
  bool all = PageParam(context, "all") == "1";
  auto hidden = api::HiddenFrom(context, RepoType::kModel, id);
  if (!hidden.ok()) {
    return ErrorPage(context, http::status::internal_server_error, hidden.status().message());
  }
  if (*hidden) return ErrorPage(context, http::status::not_found, "no model " + id + " here");
  auto graph = context.registry.Lineage(id, walk, depth, "");
  Status shown = graph.ok() ? api::HideLineageFromCaller(context, &graph.value()) : graph.status();
  if (!shown.ok()) return ErrorPage(context, http::status::internal_server_error, shown.message());
  if (graph->nodes.empty() || (graph->edges.empty() && !graph->nodes.front().mirrored)) {
    return ErrorPage(context, http::status::not_found, "no lineage known for " + id);
  }
  std::map<std::string, const registry::LineageNode*> nodes;
  for (const auto& node : graph->nodes) nodes[node.id] = &node;
  const std::string& focus = graph->nodes.front().id;
  LineageDrawing drawing;
  drawing.focus = focus;
  drawing.max_children = all ? 0 : drawing.max_children;
  drawing.node_url = [](const registry::LineageNode& node) {
    return node.mirrored ? RepoPageUrl(RepoType::kModel, node.id) : LineagePageUrl(node.id);
  };
  drawing.more_url = [](const std::string& parent) {
    return LineagePageUrl(parent) + "?depth=1&direction=down&all=1";
  };
  auto drawn = DrawLineage(*graph, drawing);
  if (drawn.status().code() == StatusCode::kIoError) {
    // Busy drawing others: the table below still says everything the picture would.
    drawn = DrawnLineage{"<p class=\"notice\">" + Escape(drawn.status().message()) + ".</p>"};
  }
  if (!drawn.ok()) {
    return ErrorPage(context, http::status::internal_server_error, drawn.status().message());
  }
  std::map<std::string, size_t> relations;
  for (const auto& edge : graph->edges) ++relations[edge.relation];
  std::string summary =
      std::to_string(graph->nodes.size()) + (graph->nodes.size() == 1 ? " model, " : " models, ") +
      std::to_string(graph->edges.size()) + (graph->edges.size() == 1 ? " link" : " links");
  for (const auto& [relation, count] : relations) {
    summary += ", " + std::to_string(count) + " " + relation;
  }
  std::string html = PageStart(context, "Lineage of " + focus, "models");
  html += "<h1>Lineage of " + ModelLink(nodes[focus], focus) + "</h1>" +
          Controls(focus, depth, direction, all);
  if (!graph->roots.empty()) {
    html += "<p id=\"foundations\">Foundation models: ";
    for (size_t i = 0; i < graph->roots.size(); ++i) {
      html += (i ? ", " : "") + ModelLink(nodes[graph->roots[i]], graph->roots[i]);
    }
    html += "</p>";
  }
  html += "<figure id=\"lineage\" aria-describedby=\"lineage-summary\"><div class=\"graph\">" +
          drawn->svg + "</div><figcaption id=\"lineage-summary\">" + Escape(summary) + ", " +
          "up to " + std::to_string(depth) + " links away from " + Escape(focus) +
          ". Arrows point from a model to the one it is built on; dashed models are known but not "
          "mirrored here.";
  if (drawn->models_hidden > 0) {
    html += " " + std::to_string(drawn->models_hidden) +
            " models are folded into \"+N more\" nodes; the table below lists every one.";
  }
  html += "</figcaption></figure><section id=\"lineage-text\"><h2>Every link</h2>" +
          TableStart("lineage-table", {"Model", "Relation", "Built on"});
  for (const auto& edge : graph->edges) {
    html += "<tr><td>" + ModelLink(nodes[edge.child], edge.child) + "</td><td>" +
            Escape(edge.relation) + (edge.inferred ? " (inferred)" : "") + "</td><td>" +
            ModelLink(nodes[edge.parent], edge.parent) + "</td></tr>";
  }
  html += std::string(kTableEnd) + "</section>" + PageEnd();
  return HtmlResponse(std::move(html));
}

}  // namespace hubmirror::web
