#pragma once

#include <filesystem>
#include <memory>
#include <set>
#include <string>

#include "common/status.h"
#include "storage/blob_store.h"
#include "storage/s3_client.h"

namespace hubmirror::cli {

// Where blobs are kept, as the config's [storage] table says:
//   backend = "local" (the default: files under the data directory) or "s3"
//   s3_endpoint, s3_bucket, s3_region ("us-east-1"), s3_addressing ("path" or "virtual"),
//   s3_prefix (""), s3_credentials_file (else AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY),
//   serve = "stream" (the server sends the bytes itself) or "redirect" (a 302 to a presigned URL
//           of the object, with the Hub's headers, for LFS files; small files are sent as before)
// Credentials never come from the config itself. Value type.
struct StorageBackend {
  bool s3 = false;
  storage::S3Location location;
  std::string credentials_file;
  bool redirect = false;
};

// Every key the [storage] table may hold (this file's and the storage budget's).
const std::set<std::string>& StorageTableKeys();

// The backend `config` names; local without a config. kInvalidArgument naming the file and key
// for anything malformed or unknown, or an S3 backend without an endpoint or a bucket.
Result<StorageBackend> LoadStorageBackend(const std::filesystem::path& config);

// Opens the blob store `backend` names for `data_dir`: a LocalBlobStore there, or an S3BlobStore
// whose in-flight files and cache live there. For S3 it checks at once that the bucket answers
// with these credentials (so a wrong key fails the command, naming the bucket, before any work).
// The data directory remembers its bucket: opening it with another backend (a command run
// without the config that names the bucket, say) is refused with kInvalidArgument.
Result<std::unique_ptr<storage::BlobStore>> OpenBlobStore(const std::filesystem::path& data_dir,
                                                          const StorageBackend& backend);
// The same with the backend that `config` names (LoadStorageBackend).
Result<std::unique_ptr<storage::BlobStore>> OpenBlobStore(const std::filesystem::path& data_dir,
                                                          const std::filesystem::path& config);

}  // namespace hubmirror::cli
