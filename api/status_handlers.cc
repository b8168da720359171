// Native endpoints about the mirror itself: /api/mirror/status (repos hidden from the caller left
// out).
#include "api/access.h"
#include "api/handler_support.h"
#include "common/clock.h"

namespace hubmirror::api {

Response HandleMirrorStatus(const RequestContext& context) {
  using nlohmann::json;
  auto states = context.registry.ListSyncStates();
  if (!states.ok()) return ErrorFromStatus(states.status(), true);
  int64_t now = NowUnixMillis();
  json repos = json::array();
  for (const auto& state : *states) {
    auto hidden = HiddenFrom(context, state.type, state.repo);
    if (!hidden.ok()) return ErrorFromStatus(hidden.status(), true);
    if (*hidden) continue;
    auto optional = [](const std::string& value) { return value.empty() ? json() : json(value); };
    json item = {
        {"type", RepoTypeName(state.type)},
        {"id", state.repo},
        {"revision", state.revision},
        {"upstream", state.upstream},
        {"upstream_commit", optional(state.upstream_commit)},
        {"local_commit", optional(state.local_commit)},
        {"in_sync", !state.local_commit.empty() && state.local_commit == state.upstream_commit},
        {"last_check", FormatIsoMillis(state.last_check_ms)},
        {"last_error", optional(state.last_error)},
        {"source", state.pull_through ? "pull-through" : "sync"},
        // Served as last recorded while the upstream could not be asked.
        {"stale", !state.last_error.empty() && !state.local_commit.empty()}};
    // How far the mirror lags: time since the revision was last confirmed current upstream.
    if (state.last_success_ms > 0) {
      item["last_success"] = FormatIsoMillis(state.last_success_ms);
      item["seconds_since_success"] = (now - state.last_success_ms) / 1000;
    } else {
      item["last_success"] = nullptr;
      item["seconds_since_success"] = nullptr;
    }
    repos.push_back(std::move(item));
  }
  json status = {{"generated_at", FormatIsoMillis(now)}, {"repos", repos}};
  if (context.pull_through != nullptr) status["pull_through"] = PullThroughReport(context);
  return JsonResponse(status);
}

nlohmann::json PullThroughReport(const RequestContext& context) {
  nlohmann::json report = context.pull_through->Report();
  // What pull-through says of repos hidden from the caller is left out, as the repos are.
  for (const char* list : {"fills", "filled_bytes"}) {
    nlohmann::json visible = nlohmann::json::array();
    for (auto& item : report[list]) {
      RepoType type = item["type"] == "dataset" ? RepoType::kDataset : RepoType::kModel;
      auto hidden = HiddenFrom(context, type, item["repo"].get<std::string>());
      if (hidden.ok() && !*hidden) visible.push_back(std::move(item));
    }
    report[list] = std::move(visible);
  }
  return report;
}

}  // namespace hubmirror::api
