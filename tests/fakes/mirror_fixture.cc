#include "tests/fakes/mirror_fixture.h"

#include <filesystem>

namespace hubmirror::testing {

MirrorFixture::MirrorFixture()
    : local_store(std::move(storage::LocalBlobStore::OpenDirectory(dir / "data").value())),
      store(*local_store),
      registry(std::move(
          registry::Registry::Open(dir / "data/registry.db", registry::Registry::Mode::kReadWrite)
              .value())) {}

Result<sync::MirrorReport> MirrorFixture::Sync(const std::string& repo, const std::string& revision,
                                               RepoType type) {
  sync::MirrorSpec spec;
  spec.type = type;
  spec.repo = repo;
  spec.revision = revision;
  return sync::MirrorRepo(hub, store, *registry, spec);
}

std::string MirrorFixture::LocalHead(const std::string& repo, const std::string& branch,
                                     RepoType type) {
  auto found = registry->FindRepo(type, repo);
  if (!found.ok()) return "";
  auto head = registry->ResolveRevision(*found, branch);
  return head.ok() ? head->id : "";
}

std::vector<std::string> MirrorFixture::LocalPaths(const std::string& repo,
                                                   const std::string& revision) {
  std::vector<std::string> paths;
  auto found = registry->FindRepo(RepoType::kModel, repo);
  if (!found.ok()) return paths;
  auto head = registry->ResolveRevision(*found, revision);
  if (!head.ok()) return paths;
  auto entries = registry->ListEntries(*found, head->id, "");
  if (!entries.ok()) return paths;
  for (const auto& entry : *entries) {
    if (!entry.is_directory) paths.push_back(entry.path);
  }
  return paths;
}

size_t MirrorFixture::StoredBlobCount() {
  size_t count = 0;
  for (auto& entry : std::filesystem::recursive_directory_iterator(dir / "data/blobs")) {
    count += entry.is_regular_file() ? 1 : 0;
  }
  return count;
}

}  // namespace hubmirror::testing
