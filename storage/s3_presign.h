#pragma once

#include <cstdint>
#include <string>

#include "storage/s3_client.h"

namespace hubmirror::storage {

// A presigned GET URL of an object (AWS Signature V4 in the query string, payload unsigned):
// anyone holding it may GET the object, with a Range too, until it expires; another method, a
// changed key or query, or a tampered signature is refused by the server. libcurl signs
// requests it sends, not URLs for others, so this builds the canonical request itself and signs
// it with OpenSSL's HMAC-SHA-256. `key` is relative to the location's prefix; `now` is unix
// seconds; `valid_seconds` at most 7 days (as S3 allows). Pure; thread-safe.
std::string PresignedGetUrl(const S3Location& location, const S3Credentials& credentials,
                            const std::string& key, int64_t now, int64_t valid_seconds);

}  // namespace hubmirror::storage
