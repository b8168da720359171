#include "sync/storage_budget.h"

#include "common/log.h"

namespace hubmirror::sync {

Result<EvictionReport> EnforceStorageBudget(storage::BlobStore& store, registry::Registry& registry,
                                            uint64_t max_bytes) {
  EvictionReport report;
  auto totals = registry.StoredBlobTotals();
  if (!totals.ok()) return totals.status();
  report.stored_bytes = totals->bytes;
  if (report.stored_bytes <= max_bytes) return report;
  const uint64_t low_watermark = max_bytes / 10 * 9;
  auto order = registry.EvictionOrder();
  if (!order.ok()) return order.status();
  for (const auto& candidate : *order) {
    if (report.stored_bytes <= low_watermark) break;
    auto blobs = registry.EvictableBlobs(candidate.type, candidate.repo);
    if (!blobs.ok()) return blobs.status();
    if (blobs->empty()) continue;
    std::vector<std::string> evicted;
    uint64_t freed = 0;
    for (const auto& blob : *blobs) {
      Status deleted = store.Delete(blob.sha256);
      if (!deleted.ok() && deleted.code() != StatusCode::kNotFound) return deleted;
      evicted.push_back(blob.sha256);
      freed += blob.size;
    }
    HM_RETURN_IF_ERROR(registry.MarkEvicted(evicted));
    report.repos.push_back(std::string(RepoTypeName(candidate.type)) + " " + candidate.repo);
    report.blobs += evicted.size();
    report.bytes += freed;
    report.stored_bytes -= std::min(freed, report.stored_bytes);
    Log(LogLevel::kInfo, "storage budget: evicted " + report.repos.back() + " (" +
                             std::to_string(evicted.size()) + " blobs, " + std::to_string(freed) +
                             " bytes), least recently used of the pulled-through repos");
  }
  if (report.stored_bytes > max_bytes) {
    Log(LogLevel::kWarning, "storage budget: " + std::to_string(report.stored_bytes) +
                                " bytes stored, over max_bytes " + std::to_string(max_bytes) +
                                ", and nothing more may be evicted (the rest is pinned, synced "
                                "or imported content)");
  }
  return report;
}

}  // namespace hubmirror::sync
