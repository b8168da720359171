#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "api/access.h"
#include "api/handler_support.h"
#include "api/metrics.h"
#include "common/signing.h"
#include "registry/registry.h"
#include "storage/blob_store.h"

namespace hubmirror::api {

// What answering a request needs besides the request itself. `registry` is this thread's
// connection, or nullptr when it could not be opened (requests that need it get a 500).
struct DispatchEnvironment {
  registry::Registry* registry;
  storage::BlobStore& store;
  uint64_t verify_below_bytes;  // whole files smaller than this are verified as they are sent
  const SigningKey& signing_key;
  std::string origin;                 // "http://host:port" as the client addressed us
  VerifiedBlobCache* verified_blobs;  // this thread's small blobs; nullptr: none kept
  // The server's access services; nullptr: the default policy, and no writes.
  AccessServices* access = nullptr;
  std::string address{};  // the client's address ("" when unknown)
  // Pull-through, when the server has it; and, on the second dispatch of a request whose
  // Response asked for a fetch first, how that fetch ended.
  PullThrough* pull_through = nullptr;
  const Status* fetched = nullptr;
  // /metrics and /readyz: the server's request metrics and its own samples (connections, jobs),
  // and the data directory whose writability /readyz checks. Null or empty: those answer 503.
  const RequestMetrics* metrics = nullptr;
  std::function<std::vector<MetricSample>()> server_samples{};
  std::filesystem::path data_dir{};
  // The daemon's jobs and config for /api/admin/jobs and /api/admin/config; nullptr: those
  // answer 503.
  JobControl* jobs = nullptr;
  // Publishing (repos, commits, refs); nullptr: writes answer 503.
  Publisher* publisher = nullptr;
  // The web UI's pages; nullptr: page addresses answer 404.
  class WebPages* pages = nullptr;
};

// Answers one request: CORS preflight, routing (4xx for malformed or hostile targets), the
// method check (405 with Allow), authentication (401 for a token that is not valid here, 429 for
// an address that sent too many), then the endpoint's handler, which checks what the caller may
// see. Reads of several queries run in
// one registry read transaction, so they see one committed state. With pull-through, a request
// for a covered repo whose revision is not fresh here is first answered with `fetch_first` (see
// Response); dispatched again after the fetch, it is answered from the registry, and an answer of
// "not found" becomes the fetch's own error when the upstream could not be asked (504, 503 with
// Retry-After, 403 for a gated repo the mirror does not pull). Never throws for bad input; uses
// the registry connection on the calling thread only.
Response Dispatch(const Request& request, const DispatchEnvironment& environment);

// /metrics: the request metrics, the server's samples, the store's totals and pull-through's.
Response HandleMetrics(const RequestContext& context, const DispatchEnvironment& environment);

}  // namespace hubmirror::api
