// S3BlobStore passes the blob store conformance suite against a real S3 server (the s3_server
// fixture's RADOS Gateway), each case in a bucket of its own with a local directory of its own.
#include "storage/s3_blob_store.h"

#include <catch2/catch.hpp>

#include "common/clock.h"
#include "tests/storage/s3_test_bucket.h"
#include "tests/support/temp_dir.h"

namespace hubmirror::storage {
namespace {

struct S3StoreFixture {
  hubmirror::testing::TempDir dir;
  std::unique_ptr<BlobStore> store = std::move(
      S3BlobStore::Open(testing::NewTestBucket("conformance", "hm/"), dir.path()).value());
};

}  // namespace
}  // namespace hubmirror::storage

#define HM_BLOB_STORE_FIXTURES hubmirror::storage::S3StoreFixture
#include "tests/storage/blob_store_conformance.h"

namespace hubmirror::storage {
namespace {

using conformance::Put;
using conformance::ReadAll;

TEST_CASE("another node reads what one wrote, fetched from the bucket and checked", "[s3]") {
  hubmirror::testing::TempDir writer_dir;
  hubmirror::testing::TempDir reader_dir;
  auto bucket = testing::NewTestBucket("nodes", "hm/");
  auto writer = S3BlobStore::Open(testing::SameBucket(*bucket, "hm/"), writer_dir.path());
  auto reader = S3BlobStore::Open(testing::SameBucket(*bucket, "hm/"), reader_dir.path());
  REQUIRE(writer.ok());
  REQUIRE(reader.ok());
  std::string large = conformance::RandomBytes((40 << 20) + 5, 21);  // in parts
  auto blob = Put(**writer, large);
  REQUIRE(blob.ok());
  REQUIRE(Put(**writer, "small").ok());
  CHECK((*reader)->Contains(blob->sha256).value());
  CHECK(ReadAll(**reader, blob->sha256) == large);
  CHECK(ReadAll(**reader, Sha256Hex("small")) == "small");
  // Read again, from the reader's own copy now.
  CHECK(ReadAll(**reader, blob->sha256) == large);
}

TEST_CASE("an object whose bytes are not its digest's is refused, and replaced by a write",
          "[s3]") {
  hubmirror::testing::TempDir dir;
  auto bucket = testing::NewTestBucket("damaged", "hm/");
  auto store = S3BlobStore::Open(testing::SameBucket(*bucket, "hm/"), dir.path());
  REQUIRE(store.ok());
  const std::string sha256 = Sha256Hex("the right bytes");
  REQUIRE(bucket->Put("blobs/" + sha256, "the wrong bytes").ok());
  auto opened = (*store)->Open(sha256);
  CHECK(opened.status().code() == StatusCode::kCorrupt);
  CHECK_THAT(opened.status().message(), Catch::Contains(sha256));
  CHECK((*store)->Open(sha256).status().code() == StatusCode::kCorrupt);  // nothing was cached
  // Another size under the digest's name is damage that the checked bytes replace.
  REQUIRE(bucket->Put("blobs/" + sha256, "short").ok());
  REQUIRE(Put(**store, "the right bytes").ok());
  std::string stored;
  REQUIRE(bucket
              ->Get("blobs/" + sha256, 0, std::nullopt,
                    [&](const char* data, size_t size) {
                      stored.append(data, size);
                      return Status::Ok();
                    })
              .ok());
  CHECK(stored == "the right bytes");
}

TEST_CASE("a sweep aborts multipart uploads a killed writer left, once old enough", "[s3]") {
  hubmirror::testing::TempDir dir;
  auto bucket = testing::NewTestBucket("leftovers", "hm/");
  auto store = S3BlobStore::Open(testing::SameBucket(*bucket, "hm/"), dir.path());
  REQUIRE(store.ok());
  // What a writer killed between two parts leaves.
  const std::string key = "blobs/" + Sha256Hex("never completed");
  auto left = bucket->StartMultipart(key);
  REQUIRE(left.ok());
  REQUIRE(bucket->PutPart(key, *left, 1, std::string(5 << 20, 'x')).ok());
  auto pending = [&] {
    return bucket->ListMultipart("blobs/", std::nullopt).value().uploads.size();
  };
  REQUIRE(pending() == 1);
  auto recent = (*store)->SweepTemporaries(NowUnixMillis() - 60000, false);
  REQUIRE(recent.ok());
  CHECK(recent->files == 0);
  auto dry = (*store)->SweepTemporaries(NowUnixMillis() + 1000, true);
  REQUIRE(dry.ok());
  CHECK(dry->files == 1);
  CHECK(pending() == 1);
  auto swept = (*store)->SweepTemporaries(NowUnixMillis() + 1000, false);
  REQUIRE(swept.ok());
  CHECK(swept->files == 1);
  CHECK(pending() == 0);
  CHECK_FALSE(bucket->Head(key).value().has_value());
}

}  // namespace
}  // namespace hubmirror::storage
