#pragma once

// Internal to LocalBlobStore (local_blob_store.cc, local_store_upkeep.cc): names of the files it
// keeps under its data directory besides blobs.

#include <string>
#include <string_view>

#include "common/status.h"

namespace hubmirror::storage::local_layout {

// tmp/blob-*: private temp files of writers, locked (flock) while their writer lives.
inline constexpr std::string_view kPrivateTempPrefix = "blob-";
// tmp/partial-*: resumable partials, locked while a writer appends to one.
inline constexpr std::string_view kPartialPrefix = "partial-";
// leases/lease-*: the WriteLeases of live jobs, locked while their job runs; a lease is created
// as leases/staging-* and renamed once locked.
inline constexpr std::string_view kLeaseDirectory = "leases";
inline constexpr std::string_view kLeasePrefix = "lease-";
inline constexpr std::string_view kStagingLeasePrefix = "staging-";

// kInvalidArgument unless `sha256` is 64 lowercase hex digits.
Status CheckDigest(const std::string& sha256);

}  // namespace hubmirror::storage::local_layout
