#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "storage/s3_xml.h"

namespace hubmirror::storage {

// Where a bucket is: any S3-compatible endpoint and region, path-style
// (`http://host/bucket/key`) or virtual-host (`http://bucket.host/key`) addressing, and a prefix
// that every key of this client gets.
struct S3Location {
  std::string endpoint;  // "http://127.0.0.1:7480": scheme, host and port, no path
  std::string bucket;
  std::string region = "us-east-1";
  bool virtual_host = false;
  std::string prefix;  // prepended to every key ("" or ending in '/')
};

// The keys a client signs with. Never logged, never in an error or the config: they come from
// the environment or a file of their own.
struct S3Credentials {
  std::string access_key;
  std::string secret_key;
};

// AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY from the environment, else from `file` (lines
// `AWS_ACCESS_KEY_ID=...` and `AWS_SECRET_ACCESS_KEY=...`; `#` starts a comment), when given.
// kInvalidArgument naming what is missing (never a key's value).
Result<S3Credentials> LoadS3Credentials(const std::string& file);

// A client of one bucket over HTTP(S), every request signed with AWS Signature V4 by libcurl.
// Keys are relative to the location's prefix. Errors name the method, the key and S3's code,
// never a credential: kNotFound for a missing object or upload, kIoError for a failed transfer
// or a 5xx, kFailedPrecondition for a refused request (4xx: signature, permissions), kCorrupt
// for an answer that cannot be read. Thread-safe: requests may run from many threads at once
// (each takes a connection of its own from a small pool).
class S3Client {
 public:
  S3Client(S3Location location, S3Credentials credentials);
  ~S3Client();
  S3Client(const S3Client&) = delete;
  S3Client& operator=(const S3Client&) = delete;

  const S3Location& location() const { return location_; }

  // Creates the bucket; succeeds when this account owns it already.
  Status CreateBucket();
  // The object's size, time and ETag; nullopt when absent.
  Result<std::optional<S3Object>> Head(const std::string& key);
  // Stores `body` under `key` in one request.
  Status Put(const std::string& key, std::string_view body);
  // Streams bytes [offset, offset + length) of the object (to its end without a length) to
  // `sink`, which may stop the transfer by failing.
  Status Get(const std::string& key, uint64_t offset, std::optional<uint64_t> length,
             const std::function<Status(const char* data, size_t size)>& sink);
  // Removes an object; succeeds when it is absent already (as S3 does).
  Status Delete(const std::string& key);
  // Copies an object in the store (up to 5 GiB). Copying an object onto itself refreshes its
  // time (the metadata is replaced), which is how a use is recorded on S3.
  Status Copy(const std::string& from, const std::string& to);
  // One page of the objects whose keys start with `prefix` (relative), from `token` on.
  Result<S3ListPage> List(const std::string& prefix, const std::optional<std::string>& token);

  // Multipart uploads: nothing is visible under the key until Complete; Abort drops the parts.
  Result<std::string> StartMultipart(const std::string& key);
  // Uploads part `part` (from 1; every part but the last at least 5 MiB) and returns its ETag.
  Result<std::string> PutPart(const std::string& key, const std::string& upload_id, int part,
                              std::string_view body);
  Status CompleteMultipart(const std::string& key, const std::string& upload_id,
                           const std::vector<std::string>& part_etags);
  Status AbortMultipart(const std::string& key, const std::string& upload_id);
  // One page of the multipart uploads under `prefix` (relative) not yet completed or aborted.
  Result<S3UploadsPage> ListMultipart(
      const std::string& prefix, const std::optional<std::pair<std::string, std::string>>& from);

  // A presigned GET URL of the object, valid for `valid_seconds` from now (s3_presign.h).
  std::string PresignGet(const std::string& key, int64_t valid_seconds) const;

  // The key as the bucket knows it (with the prefix), and back (nullopt when outside it).
  std::string FullKey(std::string_view key) const { return location_.prefix + std::string(key); }
  std::optional<std::string> RelativeKey(std::string_view full) const;

  struct Request;  // one request's method, key, query, headers and body; in the .cc

 private:
  struct Answer {
    long status = 0;
    std::string body;  // the whole body, unless a sink took it
    std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  };
  // Sends one signed request; a 2xx Answer, or the Status its failure maps to.
  Result<Answer> Send(const Request& request);
  void* TakeHandle();
  void GiveBack(void* handle);

  const S3Location location_;
  const S3Credentials credentials_;
  std::mutex pool_mutex_;
  std::vector<void*> pool_;  // idle CURL handles, keeping their connections
};

}  // namespace hubmirror::storage
