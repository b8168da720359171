#include "storage/local_blob_store.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "tests/support/temp_dir.h"

namespace hubmirror::storage {
namespace {

struct LocalStoreFixture {
  testing::TempDir dir;
  std::unique_ptr<BlobStore> store = std::move(LocalBlobStore::OpenDirectory(dir.path()).value());
};

}  // namespace
}  // namespace hubmirror::storage

#define HM_BLOB_STORE_FIXTURES hubmirror::storage::LocalStoreFixture
#include "tests/storage/blob_store_conformance.h"

namespace hubmirror::storage {
namespace {

TEST_CASE("local layout: blobs under their digest, nothing left in tmp", "[local]") {
  testing::TempDir dir;
  auto store = std::move(LocalBlobStore::OpenDirectory(dir.path()).value());
  CHECK(std::filesystem::is_directory(dir / "quarantine"));
  std::string content = "layout check";
  auto blob = conformance::Put(*store, content);
  REQUIRE(blob.ok());
  std::string hex = blob->sha256;
  auto expected = dir.path() / "blobs" / "sha256" / hex.substr(0, 2) / hex.substr(2, 2) / hex;
  CHECK(store->BlobPath(hex) == expected);
  CHECK(testing::ReadFile(expected) == content);
  struct stat info {};
  REQUIRE(::stat(expected.c_str(), &info) == 0);
  CHECK((info.st_mode & 0222) == 0);  // published blobs are read-only
  {
    auto abandoned = store->NewWriter(BlobExpectation{3, "", ""});
    REQUIRE(abandoned.ok());
    REQUIRE((*abandoned)->Append("abc", 3).ok());
  }
  auto failed = conformance::Put(*store, "xyz", BlobExpectation{3, Sha256Hex("abc"), ""});
  CHECK_FALSE(failed.ok());
  CHECK(std::filesystem::is_empty(dir / "tmp"));
}

TEST_CASE("opening a store removes abandoned temp files, not live ones or partials", "[local]") {
  testing::TempDir dir;
  auto store = std::move(LocalBlobStore::OpenDirectory(dir.path()).value());
  auto live = store->NewWriter(BlobExpectation{10, "", ""});
  REQUIRE(live.ok());
  auto partial = store->NewWriter(BlobExpectation{10, Sha256Hex("0123456789"), "", true});
  REQUIRE((*partial)->Append("01234", 5).ok());
  partial->reset();
  testing::WriteFile(dir / "tmp/blob-abandoned", "left by a killed process");
  auto reopened = LocalBlobStore::OpenDirectory(dir.path());
  REQUIRE(reopened.ok());
  size_t blob_temps = 0;
  size_t partials = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir / "tmp")) {
    std::string name = entry.path().filename().string();
    CHECK(name != "blob-abandoned");
    blob_temps += name.starts_with("blob-") ? 1 : 0;
    partials += name.starts_with("partial-") ? 1 : 0;
  }
  CHECK(blob_temps == 1);  // the live writer's
  CHECK(partials == 1);
  REQUIRE((*live)->Append("0123456789", 10).ok());
  CHECK((*live)->Commit().ok());
}

TEST_CASE("large blobs are written around the page cache where the file system allows", "[local]") {
  testing::TempDir dir;
  struct statfs file_system {};
  REQUIRE(::statfs(dir.path().c_str(), &file_system) == 0);
  if (file_system.f_type == TMPFS_MAGIC || file_system.f_type == RAMFS_MAGIC) {
    WARN(dir.path() << " is kept in memory: its page cache is its storage; nothing to check");
    return;
  }
  int probe = ::open((dir / "probe").c_str(), O_WRONLY | O_CREAT | O_DIRECT | O_CLOEXEC, 0644);
  if (probe < 0) {
    WARN("the file system of " << dir.path() << " refuses O_DIRECT; nothing to check");
    return;
  }
  ::close(probe);
  auto store = std::move(LocalBlobStore::OpenDirectory(dir.path()).value());
  std::string content = conformance::RandomBytes(16 << 20, 13);
  auto blob = conformance::Put(*store, content, BlobExpectation{content.size(), "", ""}, 1 << 20);
  REQUIRE(blob.ok());
  int fd = ::open(store->BlobPath(blob->sha256).c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  void* mapped = ::mmap(nullptr, content.size(), PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  REQUIRE(mapped != MAP_FAILED);
  size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> resident((content.size() + page - 1) / page);
  REQUIRE(::mincore(mapped, content.size(), resident.data()) == 0);
  ::munmap(mapped, content.size());
  size_t cached = 0;
  for (unsigned char flags : resident) cached += flags & 1;
  // Only a partial last block may go through the cache; this blob has none.
  CHECK(cached == 0);
  CHECK(conformance::ReadAll(*store, blob->sha256) == content);
}

TEST_CASE("opening a store in an unwritable place fails clearly", "[local]") {
  auto store = LocalBlobStore::OpenDirectory("/proc/hubmirror-cannot-exist");
  REQUIRE_FALSE(store.ok());
  CHECK(store.status().code() == StatusCode::kIoError);
  CHECK_THAT(store.status().message(), Catch::Contains("/proc/hubmirror-cannot-exist"));
}

}  // namespace
}  // namespace hubmirror::storage
