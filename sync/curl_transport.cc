#include "sync/curl_transport.h"

#include <curl/curl.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <random>
#include <thread>

#include "common/clock.h"
#include "common/log.h"
#include "common/names.h"
#include "sync/hub_json.h"

namespace hubmirror::sync {
namespace {

constexpr size_t kMaxApiBodyBytes = 512u << 20;  // tree pages of huge repos are big, not this big
constexpr size_t kMaxErrorBodyBytes = 64u << 10;
constexpr int kMaxRedirects = 5;
constexpr long kDownloadBufferBytes = 512 * 1024;
constexpr auto kMaxServerRequestedDelay = std::chrono::hours(1);
// How long callers that do not wait out a 429 leave the upstream alone when it does not say.
constexpr std::chrono::milliseconds kRateLimitDefaultWait{1000};

// libcurl's global state, initialised once before any handle exists.
void EnsureCurlInitialised() {
  static const CURLcode kInit = curl_global_init(CURL_GLOBAL_DEFAULT);
  (void)kInit;
}

// One handle per thread keeps its connection cache across requests.
CURL* ThreadHandle() {
  thread_local std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> handle(curl_easy_init(),
                                                                          curl_easy_cleanup);
  curl_easy_reset(handle.get());
  return handle.get();
}

// "scheme://host:port" of an absolute URL (resolving `location` against `base` when given).
std::optional<std::string> ResolveUrl(const std::string& base, const std::string& location,
                                      std::string* origin) {
  CURLU* url = curl_url();
  std::optional<std::string> result;
  if (curl_url_set(url, CURLUPART_URL, base.c_str(), 0) == CURLUE_OK &&
      (location.empty() || curl_url_set(url, CURLUPART_URL, location.c_str(), 0) == CURLUE_OK)) {
    char *full = nullptr, *scheme = nullptr, *host = nullptr, *port = nullptr;
    if (curl_url_get(url, CURLUPART_URL, &full, 0) == CURLUE_OK &&
        curl_url_get(url, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(url, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
        curl_url_get(url, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
      std::string lower_scheme = AsciiLower(scheme);
      if (lower_scheme == "http" || lower_scheme == "https") {
        result = full;
        if (origin != nullptr) *origin = lower_scheme + "://" + AsciiLower(host) + ":" + port;
      }
    }
    curl_free(full);
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
  }
  curl_url_cleanup(url);
  return result;
}

std::string Unquote(std::string value) {
  if (value.starts_with("W/")) value = value.substr(2);
  if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
    value = value.substr(1, value.size() - 2);
  }
  return value;
}

bool IsRedirect(long status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

bool IsRetryableStatus(long status) {
  return status == 408 || status == 429 || (status >= 500 && status <= 599);
}

// One HTTP request and its response, as the transfer callbacks fill it.
struct Exchange {
  CURLcode curl = CURLE_OK;
  std::string curl_error;
  long status = 0;
  std::map<std::string, std::string> headers;  // lower-cased names
  std::string body;                            // API body, or the start of an error body
  Status sink_status;                          // why the sink (or a check) stopped the transfer
  uint64_t delivered = 0;                      // bytes handed to the sink
  bool range_honoured = false;                 // 206: the body starts where the Range asked

  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
  bool TransportFailed() const { return curl != CURLE_OK && sink_status.ok(); }
  // The whole response arrived (or the transfer stopped on purpose at the end of the range) and
  // nothing refused its bytes; the status says whether it is the answer wanted.
  bool Completed() const { return curl == CURLE_OK && sink_status.ok(); }
  // Worth another try: transport failures other than a name that does not resolve (an offline or
  // air-gapped machine, where retrying only delays the one clear error), and 408, 429 and 5xx.
  bool Retryable() const {
    if (TransportFailed()) {
      return curl != CURLE_COULDNT_RESOLVE_HOST && curl != CURLE_COULDNT_RESOLVE_PROXY;
    }
    return sink_status.ok() && IsRetryableStatus(status);
  }
  std::string Describe() const {
    if (TransportFailed()) return curl_error;
    std::string message = Header("x-error-message");
    return "HTTP " + std::to_string(status) + (message.empty() ? "" : " (" + message + ")");
  }
};

struct TransferContext {
  CURL* handle;
  Exchange* exchange;
  const ByteSink* sink;
  uint64_t range_start;
  uint64_t wanted;  // bytes the sink takes, from range_start
  uint64_t to_skip = 0;
  bool first_body_byte = true;
  bool reached_end = false;  // stopped on purpose: a server that ignored Range sent more
};

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* context = static_cast<TransferContext*>(user);
  std::string_view line(data, size * count);
  if (line.starts_with("HTTP/")) {
    context->exchange->headers.clear();  // a new response (after 100 Continue, for instance)
  } else if (size_t colon = line.find(':'); colon != std::string_view::npos) {
    std::string name = AsciiLower(line.substr(0, colon));
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    while (!value.empty() &&
           (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
      value.remove_suffix(1);
    }
    context->exchange->headers[name] = std::string(value);
  }
  return size * count;
}

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* context = static_cast<TransferContext*>(user);
  auto* exchange = context->exchange;
  size_t length = size * count;
  long status = 0;
  curl_easy_getinfo(context->handle, CURLINFO_RESPONSE_CODE, &status);
  if (context->sink != nullptr && (status == 200 || status == 206)) {
    if (context->first_body_byte) {
      context->first_body_byte = false;
      if (status == 200) {
        // The upstream ignored our Range: skip what the sink already has.
        context->to_skip = context->range_start;
      } else {
        exchange->range_honoured = true;
        std::string range = exchange->Header("content-range");
        std::string expected = "bytes " + std::to_string(context->range_start) + "-";
        if (!range.starts_with(expected)) {
          exchange->sink_status =
              Corrupt("upstream answered Range from " + std::to_string(context->range_start) +
                      " with Content-Range '" + range + "'");
          return 0;
        }
      }
    }
    size_t skipped = static_cast<size_t>(std::min<uint64_t>(context->to_skip, length));
    context->to_skip -= skipped;
    size_t taken = static_cast<size_t>(
        std::min<uint64_t>(length - skipped, context->wanted - exchange->delivered));
    if (taken > 0) {
      Status sunk = (*context->sink)(data + skipped, taken);
      if (!sunk.ok()) {
        exchange->sink_status = sunk;
        return 0;
      }
      exchange->delivered += taken;
    }
    if (skipped + taken < length) {
      context->reached_end = true;
      return 0;
    }
    return length;
  }
  size_t limit = context->sink != nullptr ? kMaxErrorBodyBytes : kMaxApiBodyBytes;
  if (exchange->body.size() + length > limit) {
    if (context->sink != nullptr) return length;  // the start of an error body is enough
    exchange->sink_status =
        Corrupt("upstream response larger than " + std::to_string(limit >> 20) + " MiB");
    return 0;
  }
  exchange->body.append(data, length);
  return length;
}

// One request on this thread's handle: the body goes to `sink` (from `range.start`, whatever the
// upstream sends) when given and the answer is 200 or 206, else into Exchange::body.
Exchange Perform(const UpstreamOptions& options, const std::string& url, bool authorize,
                 ByteRange range, const ByteSink* sink) {
  Exchange exchange;
  CURL* handle = ThreadHandle();
  uint64_t wanted = range.end == 0 ? UINT64_MAX : range.end - range.start;
  TransferContext context{handle, &exchange, sink, range.start, wanted};
  char error[CURL_ERROR_SIZE] = {0};
  curl_slist* headers = nullptr;
  std::string authorization = "Authorization: Bearer " + options.token;
  if (authorize && !options.token.empty())
    headers = curl_slist_append(headers, authorization.c_str());
  std::string range_header = "Range: bytes=" + std::to_string(range.start) + "-" +
                             (range.end == 0 ? "" : std::to_string(range.end - 1));
  if (range.start > 0 || range.end > 0) headers = curl_slist_append(headers, range_header.c_str());
  curl_easy_setopt(handle, CURLOPT_URL, url.c_str());
  curl_easy_setopt(handle, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(handle, CURLOPT_USERAGENT, "hubmirror/0.1");
  curl_easy_setopt(handle, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT, options.connect_timeout_seconds);
  curl_easy_setopt(handle, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(handle, CURLOPT_LOW_SPEED_TIME, options.stall_timeout_seconds);
  if (sink == nullptr) {
    curl_easy_setopt(handle, CURLOPT_ACCEPT_ENCODING, "");  // API: any
  } else if (options.max_bytes_per_second == 0) {
    // Large receive chunks: each one costs a hash update and a write(); 16 KiB ones dominate.
    // Not with a rate limit: libcurl cannot pace receives larger than the limit allows.
    curl_easy_setopt(handle, CURLOPT_BUFFERSIZE, kDownloadBufferBytes);
  }
  if (options.max_bytes_per_second > 0) {
    curl_easy_setopt(handle, CURLOPT_MAX_RECV_SPEED_LARGE,
                     static_cast<curl_off_t>(options.max_bytes_per_second));
  }
  curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(handle, CURLOPT_HEADERDATA, &context);
  curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(handle, CURLOPT_WRITEDATA, &context);
  exchange.curl = curl_easy_perform(handle);
  if (exchange.curl == CURLE_WRITE_ERROR && context.reached_end) exchange.curl = CURLE_OK;
  curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &exchange.status);
  if (exchange.curl != CURLE_OK) {
    exchange.curl_error = error[0] != '\0' ? error : curl_easy_strerror(exchange.curl);
  }
  curl_slist_free_all(headers);
  return exchange;
}

std::chrono::milliseconds RetryDelay(const UpstreamOptions& options, int attempt,
                                     const Exchange& exchange) {
  using std::chrono::milliseconds;
  using std::chrono::seconds;
  if (exchange.status == 429 || exchange.status == 503) {
    // Retry-After in seconds, else the RateLimit header's reset time `t` ("api";r=0;t=42).
    std::string after = exchange.Header("retry-after");
    std::string limit = exchange.Header("ratelimit");
    long wait = -1;
    if (!after.empty() && after.find_first_not_of("0123456789") == std::string::npos) {
      wait = std::stol(after.substr(0, 9));
    } else if (size_t t = limit.find("t="); t != std::string::npos) {
      wait = std::atol(limit.c_str() + t + 2);
    }
    if (wait >= 0) return std::min<milliseconds>(seconds(wait), kMaxServerRequestedDelay);
  }
  thread_local std::mt19937 random(std::random_device{}());
  auto base = std::min<int64_t>(options.max_backoff.count(), options.initial_backoff.count()
                                                                 << std::min(attempt, 20));
  std::uniform_int_distribution<int64_t> jitter(base / 2, std::max<int64_t>(base, 1));
  return milliseconds(jitter(random));
}

// Maps a final non-2xx answer to a Status naming the repo and what the operator can do.
Status HttpError(const Exchange& exchange, const std::string& what) {
  std::string code = exchange.Header("x-error-code");
  std::string detail = what + ": upstream answered " + exchange.Describe();
  if (code == "GatedRepo") {
    return Status(StatusCode::kFailedPrecondition,
                  what +
                      " is gated upstream: accept its terms on the upstream site with the "
                      "account whose token you pass with --token-env, then sync again");
  }
  if (exchange.status == 404 && code == "RevisionNotFound") {
    return Status(StatusCode::kRevisionNotFound, detail);
  }
  if (exchange.status == 404 && code == "EntryNotFound") {
    return Status(StatusCode::kEntryNotFound, detail);
  }
  if (exchange.status == 404 || (exchange.status == 401 && code.empty())) {
    return Status(StatusCode::kRepoNotFound,
                  what + " not found upstream (or private: give a token with --token-env)");
  }
  if (exchange.status == 401 || exchange.status == 403) {
    return Status(StatusCode::kFailedPrecondition, detail);
  }
  if (exchange.status == 400) return InvalidArgument(detail);  // the upstream refused the request
  return IoError(detail);
}

// Takes the Hub's download headers from the first response of a redirect chain that has them.
void ReadDownloadInfo(const Exchange& exchange, DownloadInfo* info) {
  std::string commit = exchange.Header("x-repo-commit");
  if (!commit.empty() && info->repo_commit.empty()) info->repo_commit = commit;
  std::string linked = Unquote(exchange.Header("x-linked-etag"));
  if (!linked.empty() && info->linked_etag.empty()) info->linked_etag = linked;
  std::string size = exchange.Header("x-linked-size");
  if (!size.empty() && !info->linked_size &&
      size.find_first_not_of("0123456789") == std::string::npos && size.size() < 20) {
    info->linked_size = std::stoull(size);
  }
}

// How one attempt at a request ended, for RetryLoop to decide what comes next.
struct Attempt {
  Exchange exchange;              // the last response of the attempt
  std::optional<Status> outcome;  // set when the attempt settled the request by itself
  // A failure that only undoes this client's own shortcut (a reused signed URL): tried again at
  // once and not counted.
  bool again_at_once = false;
  std::string resumes_at;  // for the log: where a retry resumes; "" when it starts over
};

// Counts an attempt, and the rate-limit budget its response announced.
void CountAttempt(const Exchange& exchange, UpstreamCounters& counters) {
  ++counters.requests;
  std::string limit = exchange.Header("ratelimit");
  if (size_t r = limit.find("r="); r != std::string::npos) {
    counters.rate_limit_remaining = std::atol(limit.c_str() + r + 2);
  }
}

// Runs `attempt` until it settles the request or fails in a way no retry mends, and returns how
// the request ended: a failure the sink or a check reported as it is, other answers mapped by
// HttpError or to kIoError, and kIoError once max_attempts attempts are spent.
Status RetryLoop(const UpstreamOptions& options, const std::string& what,
                 const std::function<Attempt()>& attempt) {
  UpstreamCounters* counters = options.counters.get();
  bool sink_failed = false;
  Status ended = [&]() -> Status {
    for (int attempts = 0;;) {
      Attempt tried = attempt();
      const Exchange& exchange = tried.exchange;
      if (counters != nullptr) CountAttempt(exchange, *counters);
      if (tried.outcome) return *tried.outcome;
      if (!exchange.sink_status.ok()) {
        sink_failed = true;
        return exchange.sink_status;
      }
      if (tried.again_at_once) continue;
      if (exchange.status == 429 && options.rate_limited_until_ms) {
        auto delay = std::max<std::chrono::milliseconds>(RetryDelay(options, 0, exchange),
                                                         kRateLimitDefaultWait);
        int64_t until = NowUnixMillis() + delay.count();
        int64_t known = options.rate_limited_until_ms->load();
        while (known < until &&
               !options.rate_limited_until_ms->compare_exchange_weak(known, until)) {
        }
        return IoError(what + ": " + exchange.Describe() + "; the upstream asks to wait " +
                       std::to_string((delay.count() + 999) / 1000) + " s");
      }
      if (!exchange.Retryable()) {
        return exchange.TransportFailed() ? IoError(what + ": " + exchange.Describe())
                                          : HttpError(exchange, what);
      }
      if (++attempts >= options.max_attempts) {
        return IoError(what + ": " + exchange.Describe() + " after " + std::to_string(attempts) +
                       " attempts");
      }
      if (counters != nullptr) ++counters->retries;
      auto delay = RetryDelay(options, attempts - 1, exchange);
      std::string next =
          tried.resumes_at.empty() ? "; retrying in " : " " + tried.resumes_at + "; resuming in ";
      Log(LogLevel::kWarning,
          what + ": " + exchange.Describe() + next + std::to_string(delay.count()) + " ms");
      std::this_thread::sleep_for(delay);
    }
  }();
  if (counters != nullptr && !ended.ok() && !sink_failed) ++counters->failures;
  return ended;
}

}  // namespace

std::string Redacted(const std::string& url) { return url.substr(0, url.find('?')); }

Result<std::unique_ptr<CurlTransport>> CurlTransport::Create(UpstreamOptions options) {
  EnsureCurlInitialised();
  while (!options.base_url.empty() && options.base_url.back() == '/') options.base_url.pop_back();
  std::string origin;
  if (!ResolveUrl(options.base_url, "", &origin)) {
    return InvalidArgument("--upstream must be an http:// or https:// URL, got '" +
                           Redacted(options.base_url) + "'");
  }
  return std::unique_ptr<CurlTransport>(new CurlTransport(std::move(options), origin));
}

CurlTransport::CurlTransport(UpstreamOptions options, std::string host)
    : options_(std::move(options)), host_(std::move(host)) {}

std::optional<std::string> CurlTransport::OnUpstream(const std::string& base,
                                                     const std::string& location) const {
  std::string origin;
  auto resolved = ResolveUrl(base, location, &origin);
  if (!resolved || origin != host_) return std::nullopt;
  return resolved;
}

Result<nlohmann::json> CurlTransport::GetJson(const std::string& url, const std::string& what,
                                              std::string* next_link) const {
  // Where a redirect led stays the address of later attempts, and redirects count across them.
  std::string current = url;
  int hops = 0;
  nlohmann::json body;
  Status got = RetryLoop(options_, what, [&] {
    Attempt tried;
    const Exchange& exchange = tried.exchange;
    for (;;) {
      tried.exchange = Perform(options_, current, true, {}, nullptr);
      if (!IsRedirect(exchange.status) || exchange.TransportFailed()) break;
      auto next = OnUpstream(current, exchange.Header("location"));
      if (!next || ++hops > kMaxRedirects) {
        tried.outcome = Corrupt(what + ": upstream redirected to " +
                                Redacted(exchange.Header("location")) + ", which is not followed");
        return tried;
      }
      current = *next;
    }
    if (exchange.Completed() && exchange.status >= 200 && exchange.status <= 299) {
      body = nlohmann::json::parse(exchange.body, nullptr, false);
      if (body.is_discarded()) {
        tried.outcome = Corrupt(what + ": upstream sent invalid JSON");
      } else {
        if (next_link != nullptr) *next_link = NextLink(exchange.Header("link"));
        tried.outcome = Status::Ok();
      }
    }
    return tried;
  });
  if (!got.ok()) return got;
  return body;
}

Status CurlTransport::FetchRange(const std::string& what, const std::string& resolve_url,
                                 std::string* direct_url, ByteRange range, const ByteSink& sink,
                                 DownloadInfo* info, bool* range_honoured) const {
  uint64_t delivered = range.start;
  return RetryLoop(options_, what, [&] {
    Attempt tried;
    const Exchange& exchange = tried.exchange;
    // A signed URL that an earlier redirect gave is used again until it fails; after a failure
    // the download URL is resolved afresh.
    bool from_direct = !direct_url->empty();
    std::string current = from_direct ? *direct_url : resolve_url;
    bool authorize = OnUpstream(current, "").has_value();
    for (int hop = 0;; ++hop) {
      tried.exchange = Perform(options_, current, authorize, {delivered, range.end}, &sink);
      delivered += exchange.delivered;
      if (range_honoured != nullptr && exchange.range_honoured) *range_honoured = true;
      if (info != nullptr) ReadDownloadInfo(exchange, info);
      if (!IsRedirect(exchange.status) || exchange.TransportFailed()) break;
      if (hop >= kMaxRedirects) {
        tried.outcome = IoError(what + ": too many redirects");
        return tried;
      }
      std::string origin;
      auto next = ResolveUrl(current, exchange.Header("location"), &origin);
      if (!next) {
        tried.outcome = Corrupt(what + ": redirect without a usable Location");
        return tried;
      }
      // A redirect to another host (the Hub's CDN) carries its own signature: the token stays.
      if (origin != host_) authorize = false;
      current = *next;
    }
    if (exchange.Completed() && (exchange.status == 200 || exchange.status == 206)) {
      if (range.end != 0 && delivered != range.end) {
        tried.outcome =
            Corrupt(what + ": upstream ended bytes " + std::to_string(range.start) + "-" +
                    std::to_string(range.end - 1) + " at byte " + std::to_string(delivered));
      } else {
        if (current != resolve_url) *direct_url = current;
        tried.outcome = Status::Ok();
      }
      return tried;
    }
    direct_url->clear();
    // The reused signed URL failed (expired, or the transfer broke): resolving it afresh is this
    // client's own shortcut undone, not a retry.
    tried.again_at_once = from_direct;
    tried.resumes_at = "at byte " + std::to_string(delivered) + " of " + Redacted(current);
    return tried;
  });
}

}  // namespace hubmirror::sync
