#pragma once

// Internal to CurlUpstreamHub: the HTTP layer its Hub methods and ranged downloads share.

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/status.h"
#include "sync/curl_upstream_hub.h"
#include "sync/upstream_hub.h"

namespace hubmirror::sync {

// A URL fit for logs and messages: signed CDN URLs carry credentials in their query string.
std::string Redacted(const std::string& url);

// HTTP requests to one upstream over libcurl, each with its own retries: transport failures
// (except a name that does not resolve), 408, 429 and 5xx are tried again up to max_attempts
// times, after the delay a 429 or 503 asks for (Retry-After, else the RateLimit reset) or an
// exponential backoff with jitter; a transfer that stalls for stall_timeout_seconds counts as a
// transport failure. Other answers end the request at once with the codes UpstreamHub documents.
// The token goes to the upstream's own host only. Thread-safe: each thread uses its own curl
// handle, kept for connection reuse.
class CurlTransport {
 public:
  // Initialises libcurl. kInvalidArgument when the base URL is not an http(s) URL.
  static Result<std::unique_ptr<CurlTransport>> Create(UpstreamOptions options);

  // As given to Create, with the base URL's trailing '/' removed.
  const UpstreamOptions& options() const { return options_; }

  // `location` resolved against `base` when the result is an http(s) URL on the upstream's own
  // host; nullopt otherwise, for the token must not follow it there.
  std::optional<std::string> OnUpstream(const std::string& base, const std::string& location) const;

  // GETs `url` (on the upstream's host) as JSON, following redirects only while they stay on
  // that host: the Hub answers legacy ids and renamed repos with a relative 307. `what` names the
  // request in errors and logs. Sets `*next_link`, when given, to the Link header's rel="next"
  // target or "". kCorrupt for a redirect elsewhere, a body over 512 MiB or invalid JSON.
  Result<nlohmann::json> GetJson(const std::string& url, const std::string& what,
                                 std::string* next_link) const;

  // Streams `range` of a file into `sink`, starting at `*direct_url` (a URL an earlier redirect
  // led to) when set, else at `resolve_url`. Redirects are followed anywhere, but Authorization
  // is dropped once one leaves the upstream's host. Retries resume where the bytes stopped, so
  // the sink sees every byte exactly once, and even an upstream that ignores Range is correct (the
  // bytes already delivered are skipped). A failure of the reused `*direct_url` (expired, say) is
  // followed at once, uncounted, by a fresh start at `resolve_url`. On success `*direct_url` is
  // the URL a redirect led to that served the bytes, for later ranges. When non-null, `*info` takes
  // the Hub's headers from the first response that has them, and `*range_honoured` is set when
  // the upstream answered a Range with 206. kCorrupt when a bounded range ends short, a 206 starts
  // elsewhere than asked or a redirect has no usable Location; the sink's own error as it is.
  Status FetchRange(const std::string& what, const std::string& resolve_url,
                    std::string* direct_url, ByteRange range, const ByteSink& sink,
                    DownloadInfo* info, bool* range_honoured) const;

 private:
  CurlTransport(UpstreamOptions options, std::string host);

  const UpstreamOptions options_;
  const std::string host_;  // scheme://host:port of the upstream, where the token may go
};

}  // namespace hubmirror::sync
