// Native lineage endpoint: /api/lineage/{models|datasets}/{repo}.
#include "api/access.h"
#include "api/handler_support.h"
#include "api/lineage_format.h"

namespace hubmirror::api {
Response HandleLineage(const RequestContext& context) {
  const QueryParams& query = context.route.query;
  std::string direction_text = QueryValue(query, "direction").value_or("both");
  registry::LineageDirection direction;
  if (direction_text == "up") {
    direction = registry::LineageDirection::kUp;
  } else if (direction_text == "down") {
    direction = registry::LineageDirection::kDown;
  } else if (direction_text == "both") {
    direction = registry::LineageDirection::kBoth;
  } else {
    return ErrorResponse(ApiError::kBadRequest, "direction must be up, down or both", true);
  }
  auto depth = IntegerParam(query, "depth");
  if (!depth.ok()) return ErrorFromStatus(depth.status(), true);
  if (depth->value_or(0) > 1000) {
    return ErrorResponse(ApiError::kBadRequest, "depth must be at most 1000", true);
  }
  std::string relation = QueryValue(query, "relation").value_or("");
  if (!relation.empty() && relation != "finetune" && relation != "adapter" &&
      relation != "quantized" && relation != "merge" && relation != "unknown") {
    return ErrorResponse(ApiError::kBadRequest,
                         "relation must be finetune, adapter, quantized, merge or unknown", true);
  }
  std::string format = QueryValue(query, "format").value_or("json");
  if (format != "json" && format != "dot") {
    return ErrorResponse(ApiError::kBadRequest, "format must be json or dot", true);
  }
  // A private model hidden from the caller has no lineage for them.
  auto hidden = HiddenFrom(context, RepoType::kModel, context.route.repo);
  if (!hidden.ok()) return ErrorFromStatus(hidden.status(), true);
  if (*hidden) return RepoNotFoundResponse(context.route.repo, true);
  auto graph = context.registry.Lineage(context.route.repo, direction,
                                        static_cast<int>(depth->value_or(0)), relation);
  if (!graph.ok()) return ErrorFromStatus(graph.status(), true);
  if (Status hid = HideLineageFromCaller(context, &graph.value()); !hid.ok()) {
    return ErrorFromStatus(hid, true);
  }
  // A model neither mirrored nor named by any card is unknown here.
  if (graph->edges.empty() && !graph->nodes.front().mirrored) {
    return ErrorResponse(ApiError::kRepoNotFound, "no lineage known for " + context.route.repo,
                         true);
  }
  auto stats = QueryValue(query, "stats");
  bool with_family = stats && ParseBool(*stats).value_or(false);
  if (with_family && format == "dot") {
    return ErrorResponse(ApiError::kBadRequest, "stats are given in JSON only", true);
  }
  if (format == "dot") {
    Response response;
    response.Set("Content-Type", "text/vnd.graphviz; charset=utf-8");
    response.body = LineageDot(*graph);
    return response;
  }
  nlohmann::json body = LineageJson(*graph);
  if (with_family) {
    auto family = context.registry.Family(context.route.repo);
    if (!family.ok()) return ErrorFromStatus(family.status(), true);
    body["family"] = FamilyJson(*family);
  }
  return JsonResponse(body);
}

}  // namespace hubmirror::api
