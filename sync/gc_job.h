#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "common/status.h"
#include "registry/registry.h"
#include "storage/blob_store.h"

namespace hubmirror::sync {

struct GcOptions {
  // Blobs no commit names are removed once unused this long; so are temporary files.
  std::chrono::seconds grace{3600};
  // Quarantined blobs (kept for inspection) are removed this long after they were moved aside.
  std::chrono::seconds quarantine_age{30 * 86400};
  bool dry_run = false;  // count what would be removed, remove nothing
};

struct GcReport {
  size_t blobs = 0;  // blobs removed from the store (or that would be)
  uint64_t blob_bytes = 0;
  storage::SweepReport temporaries;
  storage::SweepReport quarantine;
  size_t live_blobs = 0;    // named by a file of a stored commit
  size_t recent_blobs = 0;  // named by none, but used within the grace period or by a running job
  double seconds = 0;

  uint64_t bytes() const { return blob_bytes + temporaries.bytes + quarantine.bytes; }
};

// The report as `hubmirror gc --json` prints it and the admin jobs show it: `blobs` and `bytes`
// (what was, or with `dry_run` would be, freed), then the details.
nlohmann::json GcReportJson(const GcReport& report, bool dry_run);

// Garbage collection of one data directory: marks every blob a file of a stored commit names
// (pull-through's absent content included), then removes the other blobs unless they were
// written or touched within the grace period or since the oldest WriteLease of a job still
// running in any process began (syncs, imports and fills hold one from before they store their
// first blob until their rows are published, and touch stored content they count on instead of
// writing it again): so a blob just written but not yet named is never removed. Each removal
// checks the blob's time again, and the rows of removed blobs are forgotten. Then stale temporary
// files and old quarantined blobs go. Errors name what failed; what was removed before a failure
// stays removed. Not thread-safe (one collection at a time per data directory is enough; two are
// harmless).
Result<GcReport> CollectGarbage(storage::BlobStore& store, registry::Registry& registry,
                                const GcOptions& options);

}  // namespace hubmirror::sync
