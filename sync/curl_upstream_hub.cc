#include "sync/curl_upstream_hub.h"

#include <curl/curl.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

#include "common/clock.h"
#include "common/digest.h"
#include "common/log.h"
#include "common/mapped_buffer.h"
#include "common/url.h"

namespace hubmirror::sync {
namespace {

constexpr size_t kMaxApiBodyBytes = 512u << 20;  // tree pages of huge repos are big, not this big
constexpr size_t kMaxErrorBodyBytes = 64u << 10;
constexpr int kMaxRedirects = 5;
constexpr long kDownloadBufferBytes = 512 * 1024;
constexpr int kMaxPages = 100000;
constexpr auto kMaxServerRequestedDelay = std::chrono::hours(1);

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

// A URL fit for logs: signed CDN URLs carry credentials in their query string.
std::string Redacted(const std::string& url) { return url.substr(0, url.find('?')); }

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

}  // namespace

struct CurlUpstreamHub::Exchange {
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

namespace {

struct TransferContext {
  CURL* handle;
  CurlUpstreamHub::Exchange* exchange;
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

}  // namespace

Result<std::unique_ptr<CurlUpstreamHub>> CurlUpstreamHub::Create(UpstreamOptions options) {
  EnsureCurlInitialised();
  while (!options.base_url.empty() && options.base_url.back() == '/') options.base_url.pop_back();
  std::string origin;
  if (!ResolveUrl(options.base_url, "", &origin)) {
    return InvalidArgument("--upstream must be an http:// or https:// URL, got '" +
                           Redacted(options.base_url) + "'");
  }
  return std::unique_ptr<CurlUpstreamHub>(new CurlUpstreamHub(std::move(options), origin));
}

CurlUpstreamHub::CurlUpstreamHub(UpstreamOptions options, std::string host)
    : options_(std::move(options)),
      range_helpers_available_(options_.range_helpers),
      host_(std::move(host)) {}

CurlUpstreamHub::~CurlUpstreamHub() = default;

std::string CurlUpstreamHub::Name() const { return Redacted(options_.base_url); }

CurlUpstreamHub::Exchange CurlUpstreamHub::Perform(const std::string& url, bool authorize,
                                                   ByteRange range, const ByteSink* sink) {
  Exchange exchange;
  CURL* handle = ThreadHandle();
  uint64_t wanted = range.end == 0 ? UINT64_MAX : range.end - range.start;
  TransferContext context{handle, &exchange, sink, range.start, wanted};
  char error[CURL_ERROR_SIZE] = {0};
  curl_slist* headers = nullptr;
  std::string authorization = "Authorization: Bearer " + options_.token;
  if (authorize && !options_.token.empty())
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
  curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT, options_.connect_timeout_seconds);
  curl_easy_setopt(handle, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(handle, CURLOPT_LOW_SPEED_TIME, options_.stall_timeout_seconds);
  if (sink == nullptr) {
    curl_easy_setopt(handle, CURLOPT_ACCEPT_ENCODING, "");  // API: any
  } else if (options_.max_bytes_per_second == 0) {
    // Large receive chunks: each one costs a hash update and a write(); 16 KiB ones dominate.
    // Not with a rate limit: libcurl cannot pace receives larger than the limit allows.
    curl_easy_setopt(handle, CURLOPT_BUFFERSIZE, kDownloadBufferBytes);
  }
  if (options_.max_bytes_per_second > 0) {
    curl_easy_setopt(handle, CURLOPT_MAX_RECV_SPEED_LARGE,
                     static_cast<curl_off_t>(options_.max_bytes_per_second));
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

std::chrono::milliseconds CurlUpstreamHub::RetryDelay(int attempt, const Exchange& exchange) const {
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
  auto base = std::min<int64_t>(options_.max_backoff.count(), options_.initial_backoff.count()
                                                                  << std::min(attempt, 20));
  std::uniform_int_distribution<int64_t> jitter(base / 2, std::max<int64_t>(base, 1));
  return milliseconds(jitter(random));
}

namespace {

// Takes the Hub's download headers from the first response of a redirect chain that has them.
void ReadDownloadInfo(const CurlUpstreamHub::Exchange& exchange, DownloadInfo* info) {
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

// Maps a final non-2xx answer to a Status naming the repo and what the operator can do.
Status HttpError(const CurlUpstreamHub::Exchange& exchange, const std::string& what) {
  std::string code = exchange.Header("x-error-code");
  std::string message = exchange.Header("x-error-message");
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

// A string field of an upstream JSON object, or "" when absent or of another type (upstream
// JSON is untrusted: a wrong type must not throw).
std::string StringField(const nlohmann::json& object, const char* key) {
  if (!object.is_object()) return "";
  auto value = object.find(key);
  return value != object.end() && value->is_string() ? value->get<std::string>() : "";
}

// "/api/models" or "/api/datasets": the listing, and with "/ID" a repo's API.
std::string ApiCollection(RepoType type) {
  return type == RepoType::kModel ? "/api/models" : "/api/datasets";
}

std::string ApiPrefix(RepoType type) { return ApiCollection(type) + "/"; }

}  // namespace

Result<nlohmann::json> CurlUpstreamHub::GetJson(const std::string& url, const std::string& what,
                                                std::string* next_link) {
  std::string current = url;
  for (int attempt = 0, hops = 0;;) {
    Exchange exchange = Perform(current, true, {}, nullptr);
    if (IsRedirect(exchange.status) && !exchange.TransportFailed()) {
      // The Hub answers legacy ids and renamed repos with a relative 307 to the canonical id.
      // Followed only on the upstream's own host: the token goes nowhere else.
      std::string origin;
      auto next = ResolveUrl(current, exchange.Header("location"), &origin);
      if (!next || origin != host_ || ++hops > kMaxRedirects) {
        return Corrupt(what + ": upstream redirected to " + Redacted(exchange.Header("location")) +
                       ", which is not followed");
      }
      current = *next;
      continue;
    }
    if (!exchange.Retryable()) {
      if (!exchange.sink_status.ok()) return exchange.sink_status;
      if (exchange.TransportFailed()) return IoError(what + ": " + exchange.Describe());
      if (exchange.status < 200 || exchange.status > 299) return HttpError(exchange, what);
      nlohmann::json body = nlohmann::json::parse(exchange.body, nullptr, false);
      if (body.is_discarded()) return Corrupt(what + ": upstream sent invalid JSON");
      if (next_link != nullptr) *next_link = NextLink(exchange.Header("link"));
      return body;
    }
    if (++attempt >= options_.max_attempts) {
      return IoError(what + ": " + exchange.Describe() + " after " + std::to_string(attempt) +
                     " attempts");
    }
    auto delay = RetryDelay(attempt - 1, exchange);
    Log(LogLevel::kWarning, what + ": " + exchange.Describe() + "; retrying in " +
                                std::to_string(delay.count()) + " ms");
    std::this_thread::sleep_for(delay);
  }
}

Result<RemoteRevision> CurlUpstreamHub::GetRevision(RepoType type, const std::string& repo,
                                                    const std::string& revision) {
  std::string what = std::string(RepoTypeName(type)) + " " + repo + "@" + revision;
  auto info = GetJson(
      options_.base_url + ApiPrefix(type) + repo + "/revision/" + PercentEncode(revision, false),
      what, nullptr);
  if (!info.ok()) return info.status();
  RemoteRevision result;
  const nlohmann::json& body = *info;
  if (!body.is_object() || !body.contains("sha") || !body["sha"].is_string() ||
      !IsSha1Hex(body["sha"].get<std::string>())) {
    return Corrupt(what + ": upstream repo info has no 40-hex \"sha\"");
  }
  result.commit_id = body["sha"].get<std::string>();
  auto id = body.find("id");
  result.id = id != body.end() && id->is_string() && ValidateRepoId(id->get<std::string>()).ok()
                  ? id->get<std::string>()
                  : repo;
  if (auto card = body.find("cardData"); card != body.end() && card->is_object()) {
    result.card_data = *card;
  }
  if (auto tags = body.find("tags"); tags != body.end() && tags->is_array()) {
    for (const auto& tag : *tags) {
      if (tag.is_string()) result.tags.push_back(tag.get<std::string>());
    }
  }
  result.pipeline_tag = StringField(body, "pipeline_tag");
  result.library_name = StringField(body, "library_name");
  if (auto downloads = body.find("downloads");
      downloads != body.end() && downloads->is_number_integer()) {
    result.downloads = downloads->get<int64_t>();
  }

  // The commit's title and date are metadata: a server without the commits endpoint still
  // mirrors, with a generic title.
  result.commit_title = "Mirrored from upstream";
  result.commit_message = result.commit_title + "\n";
  result.commit_author = "upstream";
  result.commit_date_ms = NowUnixMillis();
  auto commits = GetJson(
      options_.base_url + ApiPrefix(type) + repo + "/commits/" + result.commit_id + "?limit=1",
      what + " commit " + result.commit_id, nullptr);
  if (!commits.ok() && commits.status().code() == StatusCode::kFailedPrecondition) {
    return commits.status();
  }
  if (commits.ok() && commits->is_array() && !commits->empty() && (*commits)[0].is_object()) {
    const nlohmann::json& commit = (*commits)[0];
    auto take = [](const nlohmann::json& object, const char* key, std::string* field) {
      std::string value = StringField(object, key);
      if (!value.empty()) *field = std::move(value);
    };
    take(commit, "title", &result.commit_title);
    take(commit, "message", &result.commit_message);
    if (auto authors = commit.find("authors");
        authors != commit.end() && authors->is_array() && !authors->empty()) {
      take((*authors)[0], "user", &result.commit_author);
    }
    if (auto date = ParseIsoMillis(StringField(commit, "date"))) result.commit_date_ms = *date;
  } else if (!commits.ok()) {
    Log(LogLevel::kWarning, commits.status().message());
  }
  return result;
}

Result<RemoteEntry> ParseTreeEntry(const nlohmann::json& item) {
  if (!item.is_object()) return Corrupt("tree entry is not an object");
  std::string path = StringField(item, "path");
  Status valid_path = ValidateRepoPath(path);
  if (!valid_path.ok()) return Corrupt("upstream tree: " + valid_path.message());
  auto bad = [&](const std::string& why) {
    return Corrupt("upstream tree entry '" + path + "': " + why);
  };
  RemoteEntry entry;
  entry.path = path;
  std::string type = StringField(item, "type");
  if (type != "file" && type != "directory") return bad("unknown type '" + type + "'");
  entry.is_directory = type == "directory";
  entry.git_oid = StringField(item, "oid");
  if (!IsSha1Hex(entry.git_oid)) return bad("oid is not 40 lowercase hex digits");
  if (entry.is_directory) return entry;
  if (!item.contains("size") || !item["size"].is_number_unsigned()) return bad("no valid size");
  entry.size = item["size"].get<uint64_t>();
  if (auto lfs = item.find("lfs"); lfs != item.end() && !lfs->is_null()) {
    if (!lfs->is_object()) return bad("lfs is not an object");
    entry.lfs = true;
    entry.sha256 = StringField(*lfs, "oid");
    if (!IsSha256Hex(entry.sha256)) return bad("lfs.oid is not a SHA-256");
    if (!lfs->contains("size") || !(*lfs)["size"].is_number_unsigned() ||
        (*lfs)["size"].get<uint64_t>() != entry.size) {
      return bad("lfs.size differs from size");
    }
    auto pointer_size = lfs->find("pointerSize");
    if (pointer_size != lfs->end() && pointer_size->is_number_unsigned()) {
      entry.pointer_size = pointer_size->get<uint64_t>();
    }
    if (GitObjectId("blob", LfsPointer(entry.sha256, entry.size)) != entry.git_oid) {
      return bad("oid is not the git id of the LFS pointer for lfs.oid and size");
    }
  }
  return entry;
}

std::string NextLink(std::string_view header) {
  while (!header.empty()) {
    size_t open = header.find('<');
    size_t close = header.find('>', open);
    if (open == std::string_view::npos || close == std::string_view::npos) break;
    std::string_view target = header.substr(open + 1, close - open - 1);
    size_t end = header.find(',', close);
    std::string_view params =
        header.substr(close + 1, end == std::string_view::npos ? end : end - close - 1);
    if (params.find("rel=\"next\"") != std::string_view::npos ||
        params.find("rel=next") != std::string_view::npos) {
      return std::string(target);
    }
    if (end == std::string_view::npos) break;
    header.remove_prefix(end + 1);
  }
  return "";
}

Status CurlUpstreamHub::GetPages(std::string url, const std::string& what,
                                 const std::function<Status(const nlohmann::json& items)>& page) {
  for (int pages = 0; !url.empty(); ++pages) {
    if (pages >= kMaxPages) return Corrupt(what + ": pagination does not end");
    std::string next;
    auto body = GetJson(url, what, &next);
    if (!body.ok()) return body.status();
    if (!body->is_array()) return Corrupt(what + ": upstream answer is not a JSON array");
    HM_RETURN_IF_ERROR(page(*body));
    url.clear();
    if (!next.empty()) {
      std::string origin;
      auto resolved = ResolveUrl(options_.base_url, next, &origin);
      // The Hub's links are absolute; following one to another host would leak the token.
      if (!resolved || origin != host_) {
        return Corrupt(what + ": pagination link leaves the upstream: " + Redacted(next));
      }
      url = *resolved;
    }
  }
  return Status::Ok();
}

Result<std::vector<std::string>> CurlUpstreamHub::ListRepoIds(RepoType type,
                                                              const std::string& author) {
  std::vector<std::string> ids;
  Status listed = GetPages(options_.base_url + ApiCollection(type) +
                               "?author=" + PercentEncode(author, false) + "&limit=1000",
                           std::string(RepoTypeName(type)) + " listing of " + author,
                           [&](const nlohmann::json& items) {
                             for (const auto& item : items) {
                               std::string id = StringField(item, "id");
                               if (ValidateRepoId(id).ok()) ids.push_back(id);
                             }
                             return Status::Ok();
                           });
  if (!listed.ok()) return listed;
  return ids;
}

Result<std::optional<BaseModels>> CurlUpstreamHub::GetBaseModels(const std::string& repo) {
  auto info =
      GetJson(options_.base_url + ApiPrefix(RepoType::kModel) + repo + "?expand%5B%5D=baseModels",
              "model " + repo + " base models", nullptr);
  if (!info.ok()) {
    // An upstream that does not know the expansion (400), or the repo, has simply not said.
    StatusCode code = info.status().code();
    if (code == StatusCode::kInvalidArgument || code == StatusCode::kRepoNotFound) {
      return std::optional<BaseModels>();
    }
    return info.status();
  }
  auto given = info->find("baseModels");
  if (!info->is_object() || given == info->end() || !given->is_object()) {
    return std::optional<BaseModels>();
  }
  BaseModels base;
  if (auto relation = given->find("relation"); relation != given->end() && relation->is_string()) {
    base.relation = relation->get<std::string>();
  }
  if (auto models = given->find("models"); models != given->end() && models->is_array()) {
    for (const auto& model : *models) {
      if (model.is_object() && model.contains("id") && model["id"].is_string()) {
        base.ids.push_back(model["id"].get<std::string>());
      }
    }
  }
  if (base.ids.empty()) return std::optional<BaseModels>();
  return std::optional<BaseModels>(std::move(base));
}

Result<std::vector<RemoteModel>> CurlUpstreamHub::ListChildren(const std::string& parent,
                                                               const std::string& relation) {
  std::string filter = "base_model:" + (relation.empty() ? "" : relation + ":") + parent;
  std::vector<RemoteModel> models;
  Status listed = GetPages(options_.base_url + ApiCollection(RepoType::kModel) +
                               "?filter=" + PercentEncode(filter, false) +
                               "&sort=downloads&direction=-1&limit=1000",
                           "listing of " + filter, [&](const nlohmann::json& items) {
                             for (const auto& item : items) {
                               if (!item.is_object()) continue;
                               RemoteModel model;
                               model.id = StringField(item, "id");
                               if (!ValidateRepoId(model.id).ok()) continue;
                               if (auto downloads = item.find("downloads");
                                   downloads != item.end() && downloads->is_number_integer()) {
                                 model.downloads = downloads->get<int64_t>();
                               }
                               model.pipeline_tag = StringField(item, "pipeline_tag");
                               model.library_name = StringField(item, "library_name");
                               models.push_back(std::move(model));
                             }
                             return Status::Ok();
                           });
  if (!listed.ok()) return listed;
  return models;
}

Result<std::vector<RemoteEntry>> CurlUpstreamHub::ListTree(RepoType type, const std::string& repo,
                                                           const std::string& commit_id) {
  std::string what = std::string(RepoTypeName(type)) + " " + repo + "@" + commit_id + " tree";
  std::vector<RemoteEntry> entries;
  Status listed =
      GetPages(options_.base_url + ApiPrefix(type) + repo + "/tree/" + commit_id +
                   "?recursive=true&expand=false",
               what, [&](const nlohmann::json& items) {
                 for (const auto& item : items) {
                   auto entry = ParseTreeEntry(item);
                   if (!entry.ok()) {
                     return Status(entry.status().code(), what + ": " + entry.status().message());
                   }
                   entries.push_back(std::move(entry.value()));
                 }
                 return Status::Ok();
               });
  if (!listed.ok()) return listed;
  return entries;
}

namespace {

// Hands out the chunks of a byte span to the connections that fetch them and gives them back in
// order, never letting fetches run more than `window` chunks ahead of delivery, so memory stays
// bounded however large the file. Thread-safe.
class ChunkQueue {
 public:
  // The consumer's next chunk: buffered by a helper (`bytes`), or unclaimed, in which case the
  // consumer has just claimed it and streams it itself (`fetch_here`).
  struct Turn {
    size_t index = 0;
    bool fetch_here = false;
    MappedBuffer bytes;
  };

  ChunkQueue(ByteRange span, uint64_t chunk_bytes, size_t window)
      : span_(span),
        chunk_bytes_(chunk_bytes),
        count_((span.end - span.start + chunk_bytes - 1) / chunk_bytes),
        window_(window) {}

  ByteRange Range(size_t index) const {
    uint64_t start = span_.start + index * chunk_bytes_;
    return {start, std::min(span_.end, start + chunk_bytes_)};
  }

  // The next chunk for a helper to fetch into memory, once the window allows; nullopt when all
  // chunks are claimed or the transfer failed.
  std::optional<size_t> ClaimAhead() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] {
      return !failure_.ok() || next_claim_ >= count_ || next_claim_ < next_delivery_ + window_;
    });
    if (!failure_.ok() || next_claim_ >= count_) return std::nullopt;
    return next_claim_++;
  }

  void Finish(size_t index, const Status& fetched, MappedBuffer bytes) {
    std::lock_guard lock(mutex_);
    if (!fetched.ok()) {
      if (failure_.ok()) failure_ = fetched;
    } else {
      ready_[index] = std::move(bytes);
    }
    changed_.notify_all();
  }

  // Waits for the consumer's next chunk; nullopt when every chunk was delivered or one failed.
  std::optional<Turn> NextTurn() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] {
      return !failure_.ok() || next_delivery_ >= count_ || ready_.contains(next_delivery_) ||
             next_claim_ == next_delivery_;
    });
    if (!failure_.ok() || next_delivery_ >= count_) return std::nullopt;
    Turn turn;
    turn.index = next_delivery_;
    if (auto it = ready_.find(next_delivery_); it != ready_.end()) {
      turn.bytes = std::move(it->second);
      ready_.erase(it);
    } else {
      turn.fetch_here = true;
      ++next_claim_;
    }
    return turn;
  }

  void Delivered() {
    std::lock_guard lock(mutex_);
    ++next_delivery_;
    changed_.notify_all();
  }

  void Fail(const Status& failure) { Finish(0, failure, {}); }

  // A buffer for one chunk: one given back after delivery when there is one (its pages are
  // already mapped in), else a new one.
  MappedBuffer TakeBuffer() {
    std::lock_guard lock(mutex_);
    if (spare_.empty()) return MappedBuffer(chunk_bytes_);
    MappedBuffer buffer = std::move(spare_.back());
    spare_.pop_back();
    buffer.Clear();
    return buffer;
  }
  void GiveBack(MappedBuffer buffer) {
    std::lock_guard lock(mutex_);
    spare_.push_back(std::move(buffer));
  }

  Status failure() const {
    std::lock_guard lock(mutex_);
    return failure_;
  }

 private:
  const ByteRange span_;
  const uint64_t chunk_bytes_;
  const size_t count_;
  const size_t window_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  size_t next_claim_ = 0;
  size_t next_delivery_ = 0;
  std::map<size_t, MappedBuffer> ready_;
  std::vector<MappedBuffer> spare_;
  Status failure_;
};

}  // namespace

Status CurlUpstreamHub::Download(RepoType type, const std::string& repo,
                                 const std::string& commit_id, const std::string& path,
                                 uint64_t size, uint64_t offset, const ByteSink& sink,
                                 DownloadInfo* info) {
  std::string what = std::string(RepoTypeName(type)) + " " + repo + "@" + commit_id + " " + path;
  std::string url = options_.base_url + "/" + (type == RepoType::kDataset ? "datasets/" : "") +
                    repo + "/resolve/" + commit_id + "/" + PercentEncode(path, true);
  std::string direct_url;
  uint64_t chunk = options_.range_chunk_bytes;
  // libcurl paces each transfer on its own, so a rate limit keeps one connection per file.
  bool split = chunk > 0 && options_.max_bytes_per_second == 0 && size > offset &&
               size - offset >= 2 * chunk;
  if (!split) return FetchRange(what, url, &direct_url, {offset, 0}, sink, info, nullptr);
  // The first chunk resolves the URL and reads the Hub's headers; an upstream that ignores
  // Range gets the rest as one stream.
  bool ranged = false;
  HM_RETURN_IF_ERROR(
      FetchRange(what, url, &direct_url, {offset, offset + chunk}, sink, info, &ranged));
  if (!ranged)
    return FetchRange(what, url, &direct_url, {offset + chunk, 0}, sink, nullptr, nullptr);
  return FetchChunks(what, url, direct_url, {offset + chunk, size}, sink);
}

Status CurlUpstreamHub::FetchChunks(const std::string& what, const std::string& resolve_url,
                                    const std::string& direct_url, ByteRange span,
                                    const ByteSink& sink) {
  uint64_t chunk = options_.range_chunk_bytes;
  size_t wanted = static_cast<size_t>((span.end - span.start + chunk - 1) / chunk) - 1;
  size_t available = range_helpers_available_.load();
  size_t helpers = 0;
  do {
    helpers = std::min(wanted, available);
  } while (helpers > 0 &&
           !range_helpers_available_.compare_exchange_weak(available, available - helpers));
  if (helpers == 0) {
    std::string direct = direct_url;
    return FetchRange(what, resolve_url, &direct, {span.start, 0}, sink, nullptr, nullptr);
  }
  ChunkQueue queue(span, chunk, helpers + 1);
  auto helper = [&] {
    std::string direct = direct_url;
    try {
      while (auto index = queue.ClaimAhead()) {
        ByteRange range = queue.Range(*index);
        MappedBuffer bytes = queue.TakeBuffer();
        ByteSink into_memory = [&](const char* data, size_t size) {
          bytes.Append(data, size);
          return Status::Ok();
        };
        Status fetched =
            FetchRange(what, resolve_url, &direct, range, into_memory, nullptr, nullptr);
        queue.Finish(*index, fetched, std::move(bytes));
      }
    } catch (const std::exception& e) {  // no memory for a chunk: fail the file, not the process
      queue.Fail(Internal(what + ": " + e.what()));
    }
  };
  std::vector<std::thread> threads;
  for (size_t h = 0; h < helpers; ++h) threads.emplace_back(helper);
  std::string direct = direct_url;
  while (auto turn = queue.NextTurn()) {
    Status delivered = turn->fetch_here
                           ? FetchRange(what, resolve_url, &direct, queue.Range(turn->index), sink,
                                        nullptr, nullptr)
                           : sink(turn->bytes.data(), turn->bytes.size());
    if (!delivered.ok()) {
      queue.Fail(delivered);
      break;
    }
    if (!turn->fetch_here) queue.GiveBack(std::move(turn->bytes));
    queue.Delivered();
  }
  for (auto& thread : threads) thread.join();
  range_helpers_available_ += helpers;
  return queue.failure();
}

Status CurlUpstreamHub::FetchRange(const std::string& what, const std::string& resolve_url,
                                   std::string* direct_url, ByteRange range, const ByteSink& sink,
                                   DownloadInfo* info, bool* range_honoured) {
  uint64_t delivered = range.start;
  for (int attempt = 0;;) {
    // A signed URL that an earlier redirect gave is used again until it fails; after a failure
    // the download URL is resolved afresh.
    bool from_direct = !direct_url->empty();
    std::string current = from_direct ? *direct_url : resolve_url;
    std::string origin;
    ResolveUrl(current, "", &origin);
    bool authorize = origin == host_;
    Exchange exchange;
    for (int hop = 0;; ++hop) {
      exchange = Perform(current, authorize, {delivered, range.end}, &sink);
      delivered += exchange.delivered;
      if (range_honoured != nullptr && exchange.range_honoured) *range_honoured = true;
      if (info != nullptr) ReadDownloadInfo(exchange, info);
      if (!IsRedirect(exchange.status) || exchange.TransportFailed()) break;
      if (hop >= kMaxRedirects) return IoError(what + ": too many redirects");
      auto next = ResolveUrl(current, exchange.Header("location"), &origin);
      if (!next) return Corrupt(what + ": redirect without a usable Location");
      // A redirect to another host (the Hub's CDN) carries its own signature: the token stays.
      if (origin != host_) authorize = false;
      current = *next;
    }
    if (!exchange.sink_status.ok()) return exchange.sink_status;
    if (!exchange.TransportFailed() && (exchange.status == 200 || exchange.status == 206)) {
      if (range.end != 0 && delivered != range.end) {
        return Corrupt(what + ": upstream ended bytes " + std::to_string(range.start) + "-" +
                       std::to_string(range.end - 1) + " at byte " + std::to_string(delivered));
      }
      if (current != resolve_url) *direct_url = current;
      return Status::Ok();
    }
    direct_url->clear();
    // The reused signed URL failed (expired, or the transfer broke): resolving it afresh is this
    // client's own shortcut undone, not a retry, so it is done at once and not counted.
    if (from_direct) continue;
    if (!exchange.Retryable()) {
      return exchange.TransportFailed() ? IoError(what + ": " + exchange.Describe())
                                        : HttpError(exchange, what);
    }
    if (attempt + 1 >= options_.max_attempts) {
      return IoError(what + ": " + exchange.Describe() + " after " + std::to_string(attempt + 1) +
                     " attempts");
    }
    auto delay = RetryDelay(attempt, exchange);
    Log(LogLevel::kWarning, what + ": " + exchange.Describe() + " at byte " +
                                std::to_string(delivered) + " of " + Redacted(current) +
                                "; resuming in " + std::to_string(delay.count()) + " ms");
    std::this_thread::sleep_for(delay);
    ++attempt;
  }
}

}  // namespace hubmirror::sync
