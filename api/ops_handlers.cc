// Native endpoints for operators' tooling: /readyz and /metrics.
#include <unistd.h>

#include <algorithm>

#include "api/dispatch.h"
#include "common/clock.h"

namespace hubmirror::api {
namespace {

// Pull-through's counters and gauges, from its status report.
void AddPullThroughSamples(const PullThrough& pull, std::vector<MetricSample>* samples) {
  nlohmann::json report = pull.Report();
  samples->push_back(Gauge("hubmirror_pull_through_fills_in_progress",
                           "Files being fetched from the upstream for clients now.",
                           static_cast<double>(report["fills"].size())));
  double filled = 0;
  for (const auto& repo : report["filled_bytes"]) filled += repo["bytes"].get<double>();
  samples->push_back(Counter("hubmirror_pull_through_filled_bytes_total",
                             "Bytes fetched from the upstream, verified and stored for clients.",
                             filled));
  for (const auto& [outcome, count] : report["requests"].items()) {
    samples->push_back(Counter("hubmirror_pull_through_requests_total",
                               "File requests of pull-through: from the store (hit), filled now "
                               "(fill) or relayed (pass).",
                               count.get<double>(), "outcome=\"" + outcome + "\""));
  }
  samples->push_back(Gauge("hubmirror_upstream_rate_limited_seconds",
                           "Seconds the upstream still asks the mirror to wait (429).",
                           static_cast<double>(pull.RetryAfterSeconds())));
}

// How far the revisions that rules sync lag behind their upstream: how many are behind (or never
// synced) and the longest time since one was last confirmed current, which is what a serving
// node following a writer shows as its lag.
void AddMirrorLagSamples(registry::Registry& registry, std::vector<MetricSample>* samples) {
  auto states = registry.ListSyncStates();
  if (!states.ok()) return;
  int64_t now = NowUnixMillis();
  double in_sync = 0, behind = 0, oldest_seconds = 0;
  for (const auto& state : *states) {
    if (state.pull_through) continue;
    bool current = !state.local_commit.empty() && state.local_commit == state.upstream_commit;
    (current ? in_sync : behind) += 1;
    double age = state.last_success_ms > 0 ? static_cast<double>(now - state.last_success_ms) / 1000
                                           : static_cast<double>(now - state.last_check_ms) / 1000;
    oldest_seconds = std::max(oldest_seconds, age);
  }
  const char* help = "Revisions that mirror rules sync, by whether they match the upstream's.";
  samples->push_back(Gauge("hubmirror_mirror_revisions", help, in_sync, "state=\"in_sync\""));
  samples->push_back(Gauge("hubmirror_mirror_revisions", help, behind, "state=\"behind\""));
  samples->push_back(Gauge("hubmirror_mirror_oldest_success_seconds",
                           "The longest time since a rule's revision was last confirmed current "
                           "upstream (since its first check, if it never was).",
                           oldest_seconds));
}

}  // namespace

Response HandleReady(registry::Registry* registry, const std::filesystem::path& data_dir) {
  std::string problem;
  if (registry == nullptr || registry->SchemaVersion() < 0) {
    problem = "the registry cannot be read";
  } else if (data_dir.empty() || ::access((data_dir / "tmp").c_str(), W_OK) != 0 ||
             ::access((data_dir / "blobs").c_str(), W_OK) != 0) {
    problem = "the data directory cannot be written";
  }
  if (problem.empty()) return JsonResponse({{"status", "ready"}});
  Response response = JsonResponse({{"status", "not ready"}, {"reason", problem}});
  response.status = http::status::service_unavailable;
  return response;
}

Response HandleMetrics(const RequestContext& context, const DispatchEnvironment& environment) {
  if (environment.metrics == nullptr) {
    return ErrorResponse(ApiError::kServiceUnavailable, "no metrics kept here", true);
  }
  std::vector<MetricSample> samples;
  if (environment.server_samples) samples = environment.server_samples();
  if (auto totals = context.registry.StoredBlobTotals(); totals.ok()) {
    samples.push_back(
        Gauge("hubmirror_store_blobs", "Blobs stored intact.", static_cast<double>(totals->blobs)));
    samples.push_back(Gauge("hubmirror_store_bytes", "Bytes of the blobs stored intact.",
                            static_cast<double>(totals->bytes)));
  }
  AddMirrorLagSamples(context.registry, &samples);
  if (context.pull_through != nullptr) AddPullThroughSamples(*context.pull_through, &samples);
  Response response;
  response.body = environment.metrics->Render(samples);
  response.Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
  return response;
}

}  // namespace hubmirror::api
