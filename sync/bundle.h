#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/names.h"
#include "common/signing.h"
#include "common/status.h"
#include "registry/registry.h"
#include "storage/blob_store.h"
#include "sync/mirror_job.h"

namespace hubmirror::sync {

// Air-gapped transfer. A bundle is a directory: `bundle.json`, {"bundle": {...}, "signature"}
// signed like integrity manifests (common/signed_json.h), naming repos (refs of every kind,
// flags, commits oldest first with their entries and cards, lineage edges) and the blobs carried
// (sync/bundle_format.h); and volumes `volume-00001.dat`, ... that together are one stream of
// those blobs, cut every `volume_size` bytes (for media with size limits; a blob may continue in
// the next volume; sync/bundle_volumes.h). Export and import are in bundle_export.cc and
// bundle_import.cc.

// What an instance holds, for an exporter to leave out: repos with their refs (in the fields of
// a bundle's repos) and commits, and the digests of the content it has stored intact.
Result<nlohmann::json> Inventory(registry::Registry& registry);

struct ExportOptions {
  std::filesystem::path out;
  std::optional<nlohmann::json> have;  // the far side's inventory: its blobs are not carried
  uint64_t volume_size = 4ull << 30;
  bool all = false;
  std::vector<std::pair<RepoType, std::string>> repos;  // when not `all`
};

struct ExportReport {
  size_t repos = 0;
  size_t commits = 0;
  size_t blobs = 0;
  uint64_t bytes = 0;
  size_t volumes = 0;
  size_t volumes_kept = 0;  // complete from an interrupted run, not written again
};

// Writes a bundle. Streaming (memory flat); a run interrupted and started again with the same
// arguments keeps the volumes already complete. `bundle.json` is written last, atomically: a
// bundle without it is unfinished. `observer` sees one "file" per volume. kFailedPrecondition
// when a repo has a revision whose content pull-through has not all stored. Not thread-safe.
Result<ExportReport> ExportBundle(storage::BlobStore& store, registry::Registry& registry,
                                  const SigningKey& key, const ExportOptions& options,
                                  MirrorObserver* observer);

struct ImportBundleOptions {
  std::filesystem::path bundle;
  std::vector<std::shared_ptr<const SigningKey>> trusted_keys;
  bool allow_untrusted = false;
};

struct ImportBundleReport {
  std::string signer;  // key id
  bool trusted = false;
  size_t repos = 0;
  size_t commits = 0;
  size_t commits_published = 0;  // new or moved: the rest were there already
  size_t new_blobs = 0;
  uint64_t new_bytes = 0;
  size_t skipped_blobs = 0;  // already stored
};

// Imports a bundle: refuses one whose signature no trusted key verifies (unless
// `allow_untrusted`), stores every blob the store lacks while verifying its size and SHA-256
// (and git SHA-1 where known), then publishes every commit and moves the refs in one registry
// transaction, only after all of it verified; the repos' flags and details follow, in a
// transaction of their own. Refs of every kind move to where the bundle has them, except tags,
// which never move: a tag here at another commit refuses the bundle (kAlreadyExists, naming
// it). Content is stored as it verifies, so an interrupted import resumes where it stopped;
// importing the same bundle twice changes nothing. kCorrupt, kFailedPrecondition or
// kAlreadyExists name what was refused; nothing is published then. Not thread-safe.
Result<ImportBundleReport> ImportBundle(storage::BlobStore& store, registry::Registry& registry,
                                        const ImportBundleOptions& options,
                                        MirrorObserver* observer);

}  // namespace hubmirror::sync
