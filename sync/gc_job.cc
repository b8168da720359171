#include "sync/gc_job.h"

#include <algorithm>
#include <unordered_set>
#include <vector>

#include "common/clock.h"

namespace hubmirror::sync {

Result<GcReport> CollectGarbage(storage::BlobStore& store, registry::Registry& registry,
                                const GcOptions& options) {
  auto started = std::chrono::steady_clock::now();
  int64_t now = NowUnixMillis();
  int64_t grace_ms = std::chrono::duration_cast<std::chrono::milliseconds>(options.grace).count();
  // Leases are read before the registry: a job that starts later writes blobs newer than `now`.
  int64_t unused_since = now - grace_ms;
  auto oldest_lease = store.OldestLease();
  if (!oldest_lease.ok()) return oldest_lease.status();
  if (*oldest_lease) unused_since = std::min(unused_since, **oldest_lease);

  std::unordered_set<std::string> live;
  HM_RETURN_IF_ERROR(
      registry.ForEachLiveDigest([&](const std::string& sha256) { live.insert(sha256); }));

  GcReport report;
  std::vector<std::string> removed;
  HM_RETURN_IF_ERROR(store.ForEach([&](const storage::BlobListing& blob) -> Status {
    if (live.contains(blob.sha256)) {
      ++report.live_blobs;
      return Status::Ok();
    }
    if (blob.modified_ms >= unused_since) {
      ++report.recent_blobs;
      return Status::Ok();
    }
    if (!options.dry_run) {
      auto deleted = store.DeleteUnusedSince(blob.sha256, unused_since);
      if (!deleted.ok() && deleted.status().code() == StatusCode::kNotFound) return Status::Ok();
      if (!deleted.ok()) return deleted.status();
      if (!*deleted) {  // used since it was listed
        ++report.recent_blobs;
        return Status::Ok();
      }
      removed.push_back(blob.sha256);
    }
    ++report.blobs;
    report.blob_bytes += blob.size;
    return Status::Ok();
  }));
  if (!removed.empty()) HM_RETURN_IF_ERROR(registry.ForgetBlobs(removed));

  auto temporaries = store.SweepTemporaries(now - grace_ms, options.dry_run);
  if (!temporaries.ok()) return temporaries.status();
  report.temporaries = *temporaries;
  int64_t quarantine_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(options.quarantine_age).count();
  auto quarantine = store.SweepQuarantine(now - quarantine_ms, options.dry_run);
  if (!quarantine.ok()) return quarantine.status();
  report.quarantine = *quarantine;
  report.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return report;
}

namespace {

nlohmann::json SweepJson(const storage::SweepReport& sweep) {
  return {{"files", sweep.files}, {"bytes", sweep.bytes}};
}

}  // namespace

nlohmann::json GcReportJson(const GcReport& report, bool dry_run) {
  return {{"dry_run", dry_run},
          {"blobs", report.blobs},
          {"bytes", report.bytes()},
          {"blob_bytes", report.blob_bytes},
          {"temporaries", SweepJson(report.temporaries)},
          {"quarantine", SweepJson(report.quarantine)},
          {"live_blobs", report.live_blobs},
          {"recent_blobs", report.recent_blobs},
          {"seconds", report.seconds}};
}

}  // namespace hubmirror::sync
