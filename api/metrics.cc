#include "api/metrics.h"

#include <cstdio>
#include <map>

namespace hubmirror::api {
namespace {

// A number as Prometheus reads it: integers without a fraction.
std::string Number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.15g", value);
  return text;
}

void Header(std::string* out, std::string_view name, std::string_view type, std::string_view help) {
  *out += "# HELP ";
  *out += name;
  *out += ' ';
  *out += help;
  *out += "\n# TYPE ";
  *out += name;
  *out += ' ';
  *out += type;
  *out += '\n';
}

}  // namespace

size_t RequestMetrics::FamilyIndex(std::optional<Endpoint> endpoint) {
  if (!endpoint) return 17;
  switch (*endpoint) {
    case Endpoint::kResolve:
    case Endpoint::kRaw:
      return 0;
    case Endpoint::kRepoInfo:
      return 1;
    case Endpoint::kTree:
    case Endpoint::kPathsInfo:
      return 2;
    case Endpoint::kRefs:
      return 3;
    case Endpoint::kCommits:
      return 4;
    case Endpoint::kListRepos:
      return 5;
    case Endpoint::kLineage:
      return 6;
    case Endpoint::kIntegrityKey:
    case Endpoint::kIntegrityManifest:
      return 7;
    case Endpoint::kMirrorStatus:
      return 8;
    case Endpoint::kAskAccess:
    case Endpoint::kAuthCheck:
    case Endpoint::kAccessRequests:
    case Endpoint::kAccessDecision:
    case Endpoint::kRepoSettings:
      return 9;
    case Endpoint::kWhoami:
      return 10;
    case Endpoint::kAdminUsers:
    case Endpoint::kAdminUser:
    case Endpoint::kAdminOrgs:
    case Endpoint::kAdminOrgMember:
    case Endpoint::kAdminTokens:
    case Endpoint::kAdminToken:
    case Endpoint::kAdminAccess:
    case Endpoint::kAdminAudit:
    case Endpoint::kAdminJobs:
    case Endpoint::kAdminJob:
    case Endpoint::kAdminConfig:
    case Endpoint::kAdminReload:
      return 11;
    case Endpoint::kHealth:
    case Endpoint::kReady:
      return 12;
    case Endpoint::kMetrics:
      return 13;
    case Endpoint::kTelemetry:
    case Endpoint::kAgentHarnesses:
      return 14;
    case Endpoint::kCreateRepo:
    case Endpoint::kDeleteRepo:
    case Endpoint::kMoveRepo:
    case Endpoint::kValidateYaml:
    case Endpoint::kPreupload:
    case Endpoint::kCommit:
    case Endpoint::kBranch:
    case Endpoint::kTag:
    case Endpoint::kXetWriteToken:
    case Endpoint::kDiscussions:
    case Endpoint::kLfsBatch:
    case Endpoint::kLfsUpload:
    case Endpoint::kLfsComplete:
    case Endpoint::kLfsVerify:
      return 15;
    case Endpoint::kPage:
      return 16;
  }
  return 17;
}

void RequestMetrics::Finished(std::optional<Endpoint> endpoint, unsigned status, uint64_t bytes,
                              double seconds) {
  in_flight_.fetch_sub(1, std::memory_order_relaxed);
  Family& family = families_[FamilyIndex(endpoint)];
  size_t code = kCodes.size();
  for (size_t i = 0; i < kCodes.size(); ++i) {
    if (kCodes[i] == status) code = i;
  }
  family.requests[code].fetch_add(1, std::memory_order_relaxed);
  family.bytes.fetch_add(bytes, std::memory_order_relaxed);
  size_t bucket = kBuckets.size();
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) {
      bucket = i;
      break;
    }
  }
  family.latency[bucket].fetch_add(1, std::memory_order_relaxed);
  family.latency_micros.fetch_add(static_cast<uint64_t>(seconds * 1e6), std::memory_order_relaxed);
}

std::string RequestMetrics::Render(const std::vector<MetricSample>& extra) const {
  std::string out;
  out.reserve(32 * 1024);
  Header(&out, "hubmirror_http_requests_total", "counter",
         "HTTP requests answered, by route family and status code.");
  for (size_t f = 0; f < families_.size(); ++f) {
    for (size_t c = 0; c < kCodeSlots; ++c) {
      uint64_t count = families_[f].requests[c].load(std::memory_order_relaxed);
      if (count == 0) continue;
      std::string code = c < kCodes.size() ? std::to_string(kCodes[c]) : "other";
      out += "hubmirror_http_requests_total{route=\"" + std::string(kFamilyNames[f]) +
             "\",code=\"" + code + "\"} " + std::to_string(count) + "\n";
    }
  }
  Header(&out, "hubmirror_http_response_bytes_total", "counter",
         "Bytes of response bodies sent, by route family.");
  for (size_t f = 0; f < families_.size(); ++f) {
    out += "hubmirror_http_response_bytes_total{route=\"" + std::string(kFamilyNames[f]) + "\"} " +
           std::to_string(families_[f].bytes.load(std::memory_order_relaxed)) + "\n";
  }
  Header(&out, "hubmirror_http_request_duration_seconds", "histogram",
         "Time from a request's first byte to its response's last, by route family.");
  for (size_t f = 0; f < families_.size(); ++f) {
    const Family& family = families_[f];
    std::string route = "route=\"" + std::string(kFamilyNames[f]) + "\"";
    uint64_t cumulative = 0;
    for (size_t b = 0; b <= kBuckets.size(); ++b) {
      cumulative += family.latency[b].load(std::memory_order_relaxed);
      std::string le = b < kBuckets.size() ? Number(kBuckets[b]) : "+Inf";
      out += "hubmirror_http_request_duration_seconds_bucket{" + route + ",le=\"" + le + "\"} " +
             std::to_string(cumulative) + "\n";
    }
    out +=
        "hubmirror_http_request_duration_seconds_sum{" + route + "} " +
        Number(static_cast<double>(family.latency_micros.load(std::memory_order_relaxed)) / 1e6) +
        "\n";
    out += "hubmirror_http_request_duration_seconds_count{" + route + "} " +
           std::to_string(cumulative) + "\n";
  }
  Header(&out, "hubmirror_http_requests_in_flight", "gauge", "Requests being answered now.");
  out += "hubmirror_http_requests_in_flight " +
         std::to_string(in_flight_.load(std::memory_order_relaxed)) + "\n";
  // Samples of one name share one HELP and TYPE, so they are grouped by name.
  std::map<std::string, std::vector<const MetricSample*>> by_name;
  for (const auto& sample : extra) by_name[sample.name].push_back(&sample);
  for (const auto& [name, samples] : by_name) {
    Header(&out, name, samples.front()->type, samples.front()->help);
    for (const MetricSample* sample : samples) {
      out += name;
      if (!sample->labels.empty()) out += "{" + sample->labels + "}";
      out += " " + Number(sample->value) + "\n";
    }
  }
  return out;
}

std::string EscapeLabelValue(std::string_view value) {
  std::string escaped;
  escaped.reserve(value.size());
  for (char c : value) {
    if (c == '\n') {
      escaped += "\\n";
      continue;
    }
    if (c == '\\' || c == '"') escaped += '\\';
    escaped += c;
  }
  return escaped;
}

}  // namespace hubmirror::api
