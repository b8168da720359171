#pragma once

#include <atomic>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/names.h"
#include "common/status.h"
#include "registry/registry.h"
#include "storage/blob_store.h"
#include "sync/mirror_job.h"

namespace hubmirror::sync {

struct VerifyOptions {
  std::optional<RepoType> type;  // with `repo`: only the blobs that repo's files use
  std::string repo;
  size_t threads = 0;  // 0: one per core
  // Reads at most this many bytes a second in all (0: as fast as it can), so that a scrub in the
  // background leaves the disk to serving.
  uint64_t max_bytes_per_second = 0;
  // When set and true, the run stops early with kIoError (nothing is marked).
  const std::atomic<bool>* cancel = nullptr;
};

// A blob that failed verification, and some of the files that use it.
struct BlobProblem {
  std::string sha256;
  registry::BlobState state;  // kCorrupt (moved to quarantine/) or kMissing
  std::string detail;         // what was found instead: digests, sizes, or absence
  std::vector<registry::BlobUse> uses;
};

struct VerifyReport {
  size_t blobs = 0;
  uint64_t bytes = 0;
  double seconds = 0;
  std::vector<BlobProblem> problems;  // by digest
  // File rows the blobs table contradicts (no row for their content, or another size).
  std::vector<std::pair<registry::BlobUse, std::string>> inconsistent_files;

  bool clean() const { return problems.empty() && inconsistent_files.empty(); }
  size_t Count(registry::BlobState state) const;  // problems in that state
  double BytesPerSecond() const { return seconds > 0 ? bytes / seconds : 0; }
};

// The report as `hubmirror verify --json` prints it and the admin jobs show it: counts, then
// each problem with the files it touches.
nlohmann::json VerifyReportJson(const VerifyReport& report);

// Re-hashes stored blobs (all, or one repo's) with SHA-256, and with git's blob SHA-1 where the
// registry knows it, streaming, on several threads, and checks their sizes and that every file
// row agrees with its blob's row. Corrupt blobs are
// quarantined and, like missing ones, marked in the registry so that they are never served and
// the next sync fetches them again; blobs found good again are marked ok. `observer` sees one
// "file" per blob (named by digest). Uses `registry` from the calling thread only.
Result<VerifyReport> VerifyStore(storage::BlobStore& store, registry::Registry& registry,
                                 const VerifyOptions& options, MirrorObserver* observer);

}  // namespace hubmirror::sync
