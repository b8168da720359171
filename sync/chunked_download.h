#pragma once

// Internal to CurlUpstreamHub: large files fetched as parallel ranges.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/status.h"
#include "sync/curl_transport.h"
#include "sync/curl_upstream_hub.h"
#include "sync/upstream_hub.h"

namespace hubmirror::sync {

// Fetches spans of files as chunks of range_chunk_bytes over several connections at once and
// delivers them in order: the calling thread streams its chunks straight into the sink while
// helper threads fetch the next ones into memory, never running more than one chunk per helper
// ahead of delivery. The range_helpers helper connections are shared by every download through this
// object. Thread-safe.
class ChunkedDownloader {
 public:
  // `transport` gives the chunk size and helper count (its options) and must outlive this.
  explicit ChunkedDownloader(const CurlTransport& transport);

  // Streams the bounded `span` of a file into `sink`, in order and each byte once, every chunk
  // from `direct_url` (the signed URL an earlier range of the file came from) when set, else from
  // `resolve_url`, as CurlTransport::FetchRange does. Without a free helper the span streams
  // over this thread's connection alone. Errors as FetchRange's; kInternal when there is no
  // memory for a chunk.
  Status Fetch(const std::string& what, const std::string& resolve_url,
               const std::string& direct_url, ByteRange span, const ByteSink& sink);

 private:
  const CurlTransport& transport_;
  const uint64_t chunk_bytes_;
  std::atomic<size_t> helpers_available_;
};

}  // namespace hubmirror::sync
