#pragma once

#include <cstdint>
#include <string>

namespace hubmirror::api {

// Self-authorising LFS upload URLs: the clients PUT an object's bytes with no credentials
// (hub-protocol §12.6.3), so the URL itself says who may upload what until when, signed with
// HMAC-SHA-256 under a key made when the process starts (a restart voids the URLs; the clients
// ask the batch API again). Thread-safe.

// The signature (hex) of an upload of `sha256`, `size` bytes, by `user`, until `expires`
// (unix seconds).
std::string UploadSignature(const std::string& sha256, uint64_t size, const std::string& user,
                            int64_t expires);
// Whether `signature` is that signature and `expires` has not passed; compared in constant time.
bool ValidUploadSignature(const std::string& sha256, uint64_t size, const std::string& user,
                          int64_t expires, const std::string& signature);

}  // namespace hubmirror::api
