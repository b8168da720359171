#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "registry/registry.h"
#include "storage/blob_store.h"

namespace hubmirror::sync {

struct EvictionReport {
  std::vector<std::string> repos;  // "type id" of each repo content was evicted from
  size_t blobs = 0;
  uint64_t bytes = 0;
  uint64_t stored_bytes = 0;  // stored after the eviction
};

// Keeps the store within a budget (`[storage] max_bytes`): when it holds more than `max_bytes`,
// evicts the content of repos only pull-through put here, least recently used first, until it
// holds at most 90% of the budget. Content that any mirror rule's, synced, imported or pinned repo
// uses is never evicted. Evicted content is deleted from the store and marked absent, so that
// pull-through fetches it again when asked; the revisions stay. When kept content alone exceeds
// the budget, evicts all it may and says so in the log. Not thread-safe (one enforcer per data
// directory).
Result<EvictionReport> EnforceStorageBudget(storage::BlobStore& store, registry::Registry& registry,
                                            uint64_t max_bytes);

}  // namespace hubmirror::sync
