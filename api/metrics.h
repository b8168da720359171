#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/router.h"

namespace hubmirror::api {

// One sample of a metric that other parts of the process own (a gauge or a counter they keep),
// rendered as `name{labels} value` under its family's HELP and TYPE lines.
struct MetricSample {
  std::string name;  // with the hubmirror_ prefix; counters end in _total
  std::string type;  // "gauge" or "counter"
  std::string help;
  std::string labels;  // `key="value",...` or ""; bounded sets only, never a repo id or path
  double value = 0;
};

// A label value as the text format needs it: backslash, double quote and newline escaped.
std::string EscapeLabelValue(std::string_view value);

// A counter's or a gauge's sample, as MetricSample describes it.
inline MetricSample Counter(std::string name, std::string help, double value,
                            std::string labels = "") {
  return {std::move(name), "counter", std::move(help), std::move(labels), value};
}
inline MetricSample Gauge(std::string name, std::string help, double value,
                          std::string labels = "") {
  return {std::move(name), "gauge", std::move(help), std::move(labels), value};
}

// The server's request metrics in the Prometheus text format (version 0.0.4): requests by route
// family and status code, response bytes by family, latency histograms by family, requests in
// flight. Labels are bounded: route families are fixed, status codes outside a fixed list count
// as "other". Recording is lock-free; thread-safe.
class RequestMetrics {
 public:
  void Started() { in_flight_.fetch_add(1, std::memory_order_relaxed); }
  // A request answered: its endpoint (nullopt when it matched none), status, response bytes and
  // how long it took from its first byte read to its last byte written.
  void Finished(std::optional<Endpoint> endpoint, unsigned status, uint64_t bytes, double seconds);

  // The text of /metrics: these metrics, then `extra` grouped by name.
  std::string Render(const std::vector<MetricSample>& extra) const;

 private:
  static constexpr std::array<unsigned, 19> kCodes = {200, 204, 206, 301, 302, 304, 307,
                                                      400, 401, 403, 404, 405, 409, 413,
                                                      416, 429, 500, 503, 504};
  static constexpr size_t kCodeSlots = kCodes.size() + 1;  // the last one: any other code
  static constexpr std::array<double, 11> kBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                      0.1,   0.25,   1,     5,    30};
  // Route families, the `route` label: file (resolve, raw), repo_info, tree (tree, paths-info),
  // refs, commits, list, lineage, integrity, status, access (gating and settings), whoami, admin,
  // health (healthz, readyz), metrics, telemetry, publish (repos, commits, branches and tags), page
  // (the web UI), and unmatched.
  static constexpr std::array<std::string_view, 18> kFamilyNames = {
      "file",    "repo_info", "tree",      "refs",    "commits", "list",
      "lineage", "integrity", "status",    "access",  "whoami",  "admin",
      "health",  "metrics",   "telemetry", "publish", "page",    "unmatched"};
  static size_t FamilyIndex(std::optional<Endpoint> endpoint);

  struct Family {
    std::array<std::atomic<uint64_t>, kCodeSlots> requests{};
    std::atomic<uint64_t> bytes{0};
    std::array<std::atomic<uint64_t>, kBuckets.size() + 1> latency{};  // not cumulative; +Inf
    std::atomic<uint64_t> latency_micros{0};
  };
  std::array<Family, kFamilyNames.size()> families_;
  std::atomic<int64_t> in_flight_{0};
};

}  // namespace hubmirror::api
