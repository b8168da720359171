#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "sync/upstream_counters.h"
#include "sync/upstream_hub.h"

namespace hubmirror::sync {

struct UpstreamOptions {
  std::string base_url;  // e.g. "https://huggingface.co" (a trailing '/' is ignored)
  std::string token;     // sent as a Bearer token to the upstream's own host only; never logged
  int max_attempts = 6;  // per request, counting the first
  std::chrono::milliseconds initial_backoff{500};
  std::chrono::milliseconds max_backoff{60000};
  long connect_timeout_seconds = 15;
  long stall_timeout_seconds = 30;    // a transfer with no byte for this long is retried
  uint64_t max_bytes_per_second = 0;  // per transfer; 0 for no limit
  // Files of at least two chunks are fetched as parallel ranges of this size (0: never), unless
  // a rate limit is set.
  uint64_t range_chunk_bytes = 8u << 20;
  // Connections beyond one per file that all ranged downloads together may open; each holds at
  // most one chunk in memory.
  size_t range_helpers = 4;
  // When set, a 429 is not waited out: the request ends at once (kIoError) and the time the
  // upstream asked the mirror to wait until (Retry-After or RateLimit, else a second), in unix
  // milliseconds, is recorded here for the caller to honour across requests. Serving clients
  // (pull-through) cannot sleep on their behalf.
  std::shared_ptr<std::atomic<int64_t>> rate_limited_until_ms;
  // When set, requests, retries, failures and the rate-limit budget are counted here.
  std::shared_ptr<UpstreamCounters> counters;
};

class ChunkedDownloader;
class CurlTransport;

// Bytes [start, end) of a file; end 0 means to the end of the file.
struct ByteRange {
  uint64_t start = 0;
  uint64_t end = 0;
};

// UpstreamHub over libcurl. Downloads go through /resolve without following redirects
// automatically: the X-Linked-* and X-Repo-Commit headers are read from the redirect itself (the
// CDN's own ETag is a Xet hash, not the SHA-256), and Authorization is dropped when a redirect
// leaves the upstream's host. 5xx, 408, 429 (honouring Retry-After and RateLimit), resets,
// truncated bodies and stalls are retried with exponential backoff and jitter; downloads resume
// with Range. Thread-safe: each thread uses its own curl handle, kept for connection reuse.
class CurlUpstreamHub : public UpstreamHub {
 public:
  // kInvalidArgument when the base URL is not an http(s) URL.
  static Result<std::unique_ptr<CurlUpstreamHub>> Create(UpstreamOptions options);
  ~CurlUpstreamHub() override;

  std::string Name() const override;
  Result<RemoteRevision> GetRevision(RepoType type, const std::string& repo,
                                     const std::string& revision) override;
  Result<std::vector<RemoteRef>> ListRefs(RepoType type, const std::string& repo) override;
  Result<std::vector<std::string>> ListRepoIds(RepoType type, const std::string& author) override;
  Result<RemoteCommit> GetCommit(RepoType type, const std::string& repo,
                                 const std::string& commit_id) override;
  Result<std::vector<RemoteModel>> ListChildren(const std::string& parent,
                                                const std::string& relation) override;
  Result<std::vector<RemoteEntry>> ListTree(RepoType type, const std::string& repo,
                                            const std::string& commit_id) override;
  Status Download(RepoType type, const std::string& repo, const std::string& commit_id,
                  const std::string& path, uint64_t size, uint64_t offset, const ByteSink& sink,
                  DownloadInfo* info) override;

 private:
  explicit CurlUpstreamHub(std::unique_ptr<CurlTransport> transport);
  const UpstreamOptions& options() const;
  // GETs `url` and the pages its Link headers point to (on the upstream's host only), handing
  // each page's JSON array to `page`.
  Status GetPages(std::string url, const std::string& what,
                  const std::function<Status(const nlohmann::json& items)>& page);

  std::unique_ptr<CurlTransport> transport_;
  std::unique_ptr<ChunkedDownloader> chunks_;  // uses *transport_
};

}  // namespace hubmirror::sync
