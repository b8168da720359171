#pragma once

#include <memory>
#include <string>

#include "registry/registry.h"
#include "storage/local_blob_store.h"
#include "sync/mirror_job.h"
#include "tests/fakes/fake_hub.h"
#include "tests/fakes/faulty_blob_store.h"
#include "tests/support/temp_dir.h"

namespace hubmirror::testing {

// A data directory (real store, real registry) and a FakeHub to mirror from, for unit tests of
// the sync jobs. Not thread-safe; one per test.
struct MirrorFixture {
  MirrorFixture();

  // Mirrors `repo@revision` (a model unless `type` says otherwise) with default options.
  Result<sync::MirrorReport> Sync(const std::string& repo, const std::string& revision = "main",
                                  RepoType type = RepoType::kModel);
  // The commit a local branch points at, or "" when the repo or branch is unknown.
  std::string LocalHead(const std::string& repo, const std::string& branch = "main",
                        RepoType type = RepoType::kModel);
  // Paths of the files (not directories) at a local revision.
  std::vector<std::string> LocalPaths(const std::string& repo, const std::string& revision);
  // Blob files under the store's directory.
  size_t StoredBlobCount();

  TempDir dir;
  std::unique_ptr<storage::LocalBlobStore> local_store;
  FaultyBlobStore store;
  std::unique_ptr<registry::Registry> registry;
  std::shared_ptr<FakeHub> shared_hub = std::make_shared<FakeHub>();  // for owners, like Scheduler
  FakeHub& hub = *shared_hub;
};

}  // namespace hubmirror::testing
