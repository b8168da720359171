// Native endpoints for operators' tooling: /readyz and /metrics.
#include <unistd.h>

#include "api/dispatch.h"

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
  if (context.pull_through != nullptr) AddPullThroughSamples(*context.pull_through, &samples);
  Response response;
  response.body = environment.metrics->Render(samples);
  response.Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
  return response;
}

}  // namespace hubmirror::api
