#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace hubmirror::storage {

// The XML bodies an S3 server answers with, read into plain values. The server is the
// operator's, but its answers are still input: every function refuses what it cannot read
// (kInvalidArgument naming what is wrong) and never trusts a size or count it is told. Pure
// functions; thread-safe.

// An object as a listing or a HEAD shows it.
struct S3Object {
  std::string key;  // the whole key, with any prefix
  uint64_t size = 0;
  int64_t modified_ms = 0;  // Last-Modified, unix milliseconds
  std::string etag;         // as the server quotes it
};

// One page of ListObjectsV2: its objects and, when there are more, the token of the next page.
struct S3ListPage {
  std::vector<S3Object> objects;
  std::optional<std::string> next_token;
};
Result<S3ListPage> ParseListObjects(std::string_view xml);

// A multipart upload not yet completed or aborted (ListMultipartUploads).
struct S3PendingUpload {
  std::string key;
  std::string upload_id;
  int64_t initiated_ms = 0;
};
struct S3UploadsPage {
  std::vector<S3PendingUpload> uploads;
  // When there are more: where the next page starts.
  std::optional<std::pair<std::string, std::string>> next_markers;  // (key, upload id)
};
Result<S3UploadsPage> ParseListMultipartUploads(std::string_view xml);

// The UploadId of InitiateMultipartUpload.
Result<std::string> ParseInitiateMultipart(std::string_view xml);

// An <Error> body's Code and Message; nullopt when the body is not one (S3 may answer 200 with an
// error, as CompleteMultipartUpload does when it fails late).
struct S3Error {
  std::string code;
  std::string message;
};
std::optional<S3Error> ParseError(std::string_view xml);

// An ISO 8601 time as listings give it ("2026-12-02T14:00:00.000Z") or an HTTP date as headers
// give it ("Wed, 02 Dec 2026 14:00:00 GMT"), in unix milliseconds; nullopt when it is neither.
std::optional<int64_t> ParseS3Time(std::string_view text);

}  // namespace hubmirror::storage
