// The conformance suite every BlobStore implementation must pass. Include it after defining
// HM_BLOB_STORE_FIXTURES as a comma-separated list of fixture types, each with a member
// `std::unique_ptr<hubmirror::storage::BlobStore> store` ready to use.
#pragma once

#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/digest.h"
#include "common/files.h"
#include "storage/blob_store.h"

namespace hubmirror::storage::conformance {

inline std::string RandomBytes(size_t size, unsigned seed) {
  std::mt19937 generator(seed);
  std::string bytes(size, '\0');
  for (auto& byte : bytes) byte = static_cast<char>(generator());
  return bytes;
}

inline Result<StoredBlob> Put(BlobStore& store, const std::string& content,
                              BlobExpectation expectation, size_t chunk = 4096) {
  auto writer = store.NewWriter(expectation);
  if (!writer.ok()) return writer.status();
  for (size_t offset = 0; offset < content.size(); offset += chunk) {
    Status appended =
        (*writer)->Append(content.data() + offset, std::min(chunk, content.size() - offset));
    if (!appended.ok()) return appended;
  }
  return (*writer)->Commit();
}

inline Result<StoredBlob> Put(BlobStore& store, const std::string& content) {
  return Put(store, content, BlobExpectation{content.size(), "", ""});
}

inline std::string ReadAll(BlobStore& store, const std::string& sha256) {
  auto file = store.Open(sha256);
  REQUIRE(file.ok());
  std::string bytes(file->size(), '\0');
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n =
        ::pread(file->fd(), bytes.data() + done, bytes.size() - done, static_cast<off_t>(done));
    REQUIRE(n > 0);
    done += static_cast<size_t>(n);
  }
  return bytes;
}

TEMPLATE_TEST_CASE("stored blobs read back with both digests", "[conformance]",
                   HM_BLOB_STORE_FIXTURES) {
  TestType fixture;
  std::string content = RandomBytes(3 * 1024 * 1024 + 17, 1);
  auto blob = Put(*fixture.store, content, BlobExpectation{content.size(), "", ""}, 65536);
  REQUIRE(blob.ok());
  CHECK(blob->sha256 == Sha256Hex(content));
  CHECK(blob->git_sha1 == GitObjectId("blob", content));
  CHECK(blob->size == content.size());
  CHECK(fixture.store->Contains(blob->sha256).value());
  CHECK(ReadAll(*fixture.store, blob->sha256) == content);
}

TEMPLATE_TEST_CASE("empty blob", "[conformance]", HM_BLOB_STORE_FIXTURES) {
  TestType fixture;
  auto blob = Put(*fixture.store, "");
  REQUIRE(blob.ok());
  CHECK(blob->sha256 == Sha256Hex(""));
  CHECK(ReadAll(*fixture.store, blob->sha256).empty());
}

TEMPLATE_TEST_CASE("declared digests are verified before publication", "[conformance]",
                   HM_BLOB_STORE_FIXTURES) {
  TestType fixture;
  std::string content = RandomBytes(10000, 2);
  std::string wrong_sha256 = Sha256Hex("something else");
  std::string wrong_sha1 = GitObjectId("blob", "something else");

  SECTION("sha256 mismatch") {
    auto blob = Put(*fixture.store, content, BlobExpectation{content.size(), wrong_sha256, ""});
    REQUIRE_FALSE(blob.ok());
    CHECK(blob.status().code() == StatusCode::kCorrupt);
    CHECK_THAT(blob.status().message(), Catch::Contains(wrong_sha256));
    CHECK_THAT(blob.status().message(), Catch::Contains(Sha256Hex(content)));
  }
  SECTION("git sha1 mismatch") {
    auto blob = Put(*fixture.store, content, BlobExpectation{content.size(), "", wrong_sha1});
    REQUIRE_FALSE(blob.ok());
    CHECK(blob.status().code() == StatusCode::kCorrupt);
    CHECK_THAT(blob.status().message(), Catch::Contains(GitObjectId("blob", content)));
  }
  SECTION("fewer bytes than declared") {
    auto blob = Put(*fixture.store, content, BlobExpectation{content.size() + 1, "", ""});
    REQUIRE_FALSE(blob.ok());
    CHECK(blob.status().code() == StatusCode::kCorrupt);
  }
  SECTION("more bytes than declared") {
    auto blob = Put(*fixture.store, content, BlobExpectation{content.size() - 1, "", ""});
    REQUIRE_FALSE(blob.ok());
    CHECK(blob.status().code() == StatusCode::kCorrupt);
  }
  CHECK_FALSE(fixture.store->Contains(Sha256Hex(content)).value());
  CHECK(fixture.store->Open(Sha256Hex(content)).status().code() == StatusCode::kNotFound);

  auto good =
      Put(*fixture.store, content,
          BlobExpectation{content.size(), Sha256Hex(content), GitObjectId("blob", content)});
  CHECK(good.ok());
}

TEMPLATE_TEST_CASE("an abandoned writer leaves nothing visible", "[conformance]",
                   HM_BLOB_STORE_FIXTURES) {
  TestType fixture;
  std::string content = RandomBytes(5000, 3);
  {
    auto writer = fixture.store->NewWriter(BlobExpectation{content.size(), "", ""});
    REQUIRE(writer.ok());
    REQUIRE((*writer)->Append(content.data(), content.size()).ok());
  }
  CHECK_FALSE(fixture.store->Contains(Sha256Hex(content)).value());
}

TEMPLATE_TEST_CASE("writing existing content is idempotent", "[conformance]",
                   HM_BLOB_STORE_FIXTURES) {
  TestType fixture;
  std::string content = RandomBytes(70000, 4);
  auto first = Put(*fixture.store, content);
  auto second = Put(*fixture.store, content);
  REQUIRE(first.ok());
  REQUIRE(second.ok());
  CHECK(first->sha256 == second->sha256);
  CHECK(ReadAll(*fixture.store, first->sha256) == content);
}

TEMPLATE_TEST_CASE("racing writers of the same content all succeed", "[conformance]",
                   HM_BLOB_STORE_FIXTURES) {
  TestType fixture;
  std::string content = RandomBytes(1 << 20, 5);
  std::vector<std::thread> writers;
  std::vector<int> ok(8, 0);
  for (size_t i = 0; i < ok.size(); ++i) {
    writers.emplace_back([&, i] { ok[i] = Put(*fixture.store, content).ok() ? 1 : 0; });
  }
  for (auto& writer : writers) writer.join();
  for (int result : ok) CHECK(result == 1);
  CHECK(ReadAll(*fixture.store, Sha256Hex(content)) == content);
}

TEMPLATE_TEST_CASE("a resumable write continues where an interrupted one stopped", "[conformance]",
                   HM_BLOB_STORE_FIXTURES) {
  TestType fixture;
  std::string content = RandomBytes(300000, 6);
  BlobExpectation expectation{content.size(), Sha256Hex(content), "", true};
  {
    auto first = fixture.store->NewWriter(expectation);
    REQUIRE(first.ok());
    CHECK((*first)->resumed_bytes() == 0);
    REQUIRE((*first)->Append(content.data(), 100000).ok());
  }  // interrupted: never committed
  CHECK_FALSE(fixture.store->Contains(Sha256Hex(content)).value());
  auto second = fixture.store->NewWriter(expectation);
  REQUIRE(second.ok());
  REQUIRE((*second)->resumed_bytes() == 100000);
  REQUIRE((*second)->Append(content.data() + 100000, content.size() - 100000).ok());
  auto blob = (*second)->Commit();
  REQUIRE(blob.ok());
  CHECK(ReadAll(*fixture.store, blob->sha256) == content);
  // A later writer of the same content starts from nothing.
  auto third = fixture.store->NewWriter(expectation);
  CHECK((*third)->resumed_bytes() == 0);
}

// Large blobs take another path in a store (staged, written behind, possibly around the page
// cache); sizes and offsets off every power of two find the seams between its buffers.
TEMPLATE_TEST_CASE("large blobs in odd-sized appends read back exactly", "[conformance]",
                   HM_BLOB_STORE_FIXTURES) {
  TestType fixture;
  std::string content = RandomBytes((9 << 20) + 12345, 11);
  auto writer = fixture.store->NewWriter(BlobExpectation{content.size(), Sha256Hex(content), ""});
  REQUIRE(writer.ok());
  const size_t pieces[] = {1, 4095, 65537, 3 << 20, 4096, (2 << 20) + 1, 7};
  size_t offset = 0;
  for (size_t k = 0; offset < content.size(); ++k) {
    size_t size = std::min(pieces[k % std::size(pieces)], content.size() - offset);
    REQUIRE((*writer)->Append(content.data() + offset, size).ok());
    offset += size;
  }
  auto blob = (*writer)->Commit();
  REQUIRE(blob.ok());
  CHECK(blob->size == content.size());
  CHECK(blob->git_sha1 == GitObjectId("blob", content));
  CHECK(ReadAll(*fixture.store, blob->sha256) == content);
}

TEMPLATE_TEST_CASE("a flushed writer's bytes are all readable before it commits", "[conformance]",
                   HM_BLOB_STORE_FIXTURES) {
  TestType fixture;
  std::string content = RandomBytes((6 << 20) + 4097, 12);
  auto writer = fixture.store->NewWriter(BlobExpectation{content.size(), "", ""});
  REQUIRE(writer.ok());
  const size_t half = content.size() / 2 + 3;
  auto read_back = [&](size_t length) {
    auto file = (*writer)->OpenWritten();
    REQUIRE(file.ok());
    REQUIRE((*writer)->readable_bytes() == length);
    std::string bytes(length, '\0');
    REQUIRE(ReadFullyAt(file->fd(), 0, bytes.data(), length).ok());
    return bytes;
  };
  REQUIRE((*writer)->Append(content.data(), half).ok());
  REQUIRE((*writer)->Flush().ok());
  CHECK(read_back(half) == content.substr(0, half));
  // Appending goes on after a flush, and the blob is whole.
  REQUIRE((*writer)->Append(content.data() + half, content.size() - half).ok());
  REQUIRE((*writer)->Flush().ok());
  CHECK(read_back(content.size()) == content);
  auto blob = (*writer)->Commit();
  REQUIRE(blob.ok());
  CHECK(ReadAll(*fixture.store, blob->sha256) == content);
}

TEMPLATE_TEST_CASE("a large resumable write continues from any offset, more than once",
                   "[conformance]", HM_BLOB_STORE_FIXTURES) {
  TestType fixture;
  std::string content = RandomBytes((7 << 20) + 999, 12);
  BlobExpectation expectation{content.size(), Sha256Hex(content), "", true};
  // Interrupted at a block boundary, in the middle of a block, and one byte before the end.
  const size_t stops[] = {4 << 20, (5 << 20) + 4097, content.size() - 1};
  size_t done = 0;
  for (size_t stop : stops) {
    auto writer = fixture.store->NewWriter(expectation);
    REQUIRE(writer.ok());
    REQUIRE((*writer)->resumed_bytes() == done);
    REQUIRE((*writer)->Append(content.data() + done, stop - done).ok());
    done = stop;
  }
  auto last = fixture.store->NewWriter(expectation);
  REQUIRE(last.ok());
  REQUIRE((*last)->resumed_bytes() == done);
  REQUIRE((*last)->Append(content.data() + done, content.size() - done).ok());
  auto blob = (*last)->Commit();
  REQUIRE(blob.ok());
  CHECK(ReadAll(*fixture.store, blob->sha256) == content);
}

TEMPLATE_TEST_CASE("wrong bytes are never resumed from", "[conformance]", HM_BLOB_STORE_FIXTURES) {
  TestType fixture;
  std::string content = RandomBytes(5000, 7);
  std::string wrong = RandomBytes(5000, 8);
  BlobExpectation expectation{content.size(), Sha256Hex(content), "", true};
  {
    auto writer = fixture.store->NewWriter(expectation);
    REQUIRE((*writer)->Append(wrong.data(), wrong.size()).ok());
    CHECK((*writer)->Commit().status().code() == StatusCode::kCorrupt);
  }
  auto again = fixture.store->NewWriter(expectation);
  CHECK((*again)->resumed_bytes() == 0);
  CHECK(fixture.store->NewWriter(BlobExpectation{1, "", "", true}).status().code() ==
        StatusCode::kInvalidArgument);
}

TEMPLATE_TEST_CASE("concurrent resumable writers of the same content both succeed", "[conformance]",
                   HM_BLOB_STORE_FIXTURES) {
  TestType fixture;
  std::string content = RandomBytes(200000, 9);
  BlobExpectation expectation{content.size(), Sha256Hex(content), "", true};
  auto a = fixture.store->NewWriter(expectation);
  auto b = fixture.store->NewWriter(expectation);  // the partial is taken: a private copy
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  REQUIRE((*a)->Append(content.data(), content.size()).ok());
  REQUIRE((*b)->Append(content.data(), content.size()).ok());
  CHECK((*a)->Commit().ok());
  CHECK((*b)->Commit().ok());
}

TEMPLATE_TEST_CASE("the git blob SHA-1 can be skipped", "[conformance]", HM_BLOB_STORE_FIXTURES) {
  TestType fixture;
  std::string content = RandomBytes(1000, 10);
  BlobExpectation expectation{content.size(), Sha256Hex(content), ""};
  expectation.compute_git_sha1 = false;
  auto blob = Put(*fixture.store, content, expectation);
  REQUIRE(blob.ok());
  CHECK(blob->git_sha1.empty());
  CHECK(blob->sha256 == Sha256Hex(content));
}

TEMPLATE_TEST_CASE("bad digests are rejected as arguments", "[conformance]",
                   HM_BLOB_STORE_FIXTURES) {
  TestType fixture;
  CHECK(fixture.store->Open("../../etc/passwd").status().code() == StatusCode::kInvalidArgument);
  CHECK(fixture.store->Contains(std::string(64, 'G')).status().code() ==
        StatusCode::kInvalidArgument);
  CHECK(fixture.store->NewWriter(BlobExpectation{1, "nothex", ""}).status().code() ==
        StatusCode::kInvalidArgument);
  CHECK(fixture.store->Delete("../x").code() == StatusCode::kInvalidArgument);
  CHECK(fixture.store->ContainsEach({Sha256Hex("a"), "nothex"}).status().code() ==
        StatusCode::kInvalidArgument);
}

TEMPLATE_TEST_CASE("blobs are listed, asked for by the batch, and deleted", "[conformance]",
                   HM_BLOB_STORE_FIXTURES) {
  TestType fixture;
  BlobStore& store = *fixture.store;
  std::set<std::string> stored;
  for (const char* content : {"one", "two", "three", ""}) {
    auto blob = Put(store, content);
    REQUIRE(blob.ok());
    stored.insert(blob->sha256);
  }
  std::set<std::string> listed;
  REQUIRE(store
              .ForEach([&](const BlobListing& blob) {
                listed.insert(blob.sha256);
                CHECK(blob.modified_ms > 0);
                return Status::Ok();
              })
              .ok());
  CHECK(listed == stored);
  // The callback's error stops the listing and is returned.
  size_t calls = 0;
  Status stopped = store.ForEach([&](const BlobListing&) {
    ++calls;
    return IoError("enough");
  });
  CHECK(stopped.message() == "enough");
  CHECK(calls == 1);

  auto absent = Sha256Hex("never stored");
  auto each = store.ContainsEach({Sha256Hex("two"), absent, Sha256Hex("")});
  REQUIRE(each.ok());
  CHECK(*each == std::vector<bool>{true, false, true});
  CHECK(store.ContainsEach({})->empty());

  REQUIRE(store.Delete(Sha256Hex("two")).ok());
  CHECK_FALSE(store.Contains(Sha256Hex("two")).value());
  CHECK(store.Open(Sha256Hex("two")).status().code() == StatusCode::kNotFound);
  CHECK(store.Delete(Sha256Hex("two")).code() == StatusCode::kNotFound);
  // Content deleted can be stored again.
  REQUIRE(Put(store, "two").ok());
  CHECK(ReadAll(store, Sha256Hex("two")) == "two");
}

// The time a listing gives a blob, by digest.
inline int64_t ModifiedMs(BlobStore& store, const std::string& sha256) {
  int64_t modified = -1;
  REQUIRE(store
              .ForEach([&](const BlobListing& blob) {
                if (blob.sha256 == sha256) modified = blob.modified_ms;
                return Status::Ok();
              })
              .ok());
  return modified;
}

TEMPLATE_TEST_CASE("a blob used since a time is kept; touching one marks it used", "[conformance]",
                   HM_BLOB_STORE_FIXTURES) {
  TestType fixture;
  BlobStore& store = *fixture.store;
  REQUIRE(Put(store, "old").ok());
  REQUIRE(Put(store, "new").ok());
  int64_t written = ModifiedMs(store, Sha256Hex("old"));
  REQUIRE(written > 0);
  // Nothing is removed that was written at or after the time given.
  auto kept = store.DeleteUnusedSince(Sha256Hex("old"), written);
  REQUIRE(kept.ok());
  CHECK_FALSE(*kept);
  CHECK(store.Contains(Sha256Hex("old")).value());
  // A touch moves the time forward: a collection that started before it keeps the blob.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  REQUIRE(store.Touch(Sha256Hex("new")).ok());
  int64_t touched = ModifiedMs(store, Sha256Hex("new"));
  CHECK(touched > written);
  auto still = store.DeleteUnusedSince(Sha256Hex("new"), touched);
  REQUIRE(still.ok());
  CHECK_FALSE(*still);
  auto removed = store.DeleteUnusedSince(Sha256Hex("old"), written + 1);
  REQUIRE(removed.ok());
  CHECK(*removed);
  CHECK_FALSE(store.Contains(Sha256Hex("old")).value());
  CHECK(store.DeleteUnusedSince(Sha256Hex("old"), written + 1).status().code() ==
        StatusCode::kNotFound);
  CHECK(store.Touch(Sha256Hex("old")).code() == StatusCode::kNotFound);
  // Writing content that is stored already counts as using it.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  REQUIRE(Put(store, "new").ok());
  CHECK(ModifiedMs(store, Sha256Hex("new")) > touched);
}

TEMPLATE_TEST_CASE("write leases are seen while held, and gone once released", "[conformance]",
                   HM_BLOB_STORE_FIXTURES) {
  TestType fixture;
  BlobStore& store = *fixture.store;
  auto none = store.OldestLease();
  REQUIRE(none.ok());
  CHECK_FALSE(none->has_value());
  auto first = store.LeaseWrites();
  REQUIRE(first.ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  auto second = store.LeaseWrites();
  REQUIRE(second.ok());
  auto oldest = store.OldestLease();
  REQUIRE(oldest.ok());
  REQUIRE(oldest->has_value());
  int64_t first_began = **oldest;
  first->reset();
  auto later = store.OldestLease();
  REQUIRE(later.ok());
  REQUIRE(later->has_value());
  CHECK(**later > first_began);
  second->reset();
  auto after = store.OldestLease();
  REQUIRE(after.ok());
  CHECK_FALSE(after->has_value());
}

TEMPLATE_TEST_CASE("sweeps leave what live writers hold and what is recent", "[conformance]",
                   HM_BLOB_STORE_FIXTURES) {
  TestType fixture;
  BlobStore& store = *fixture.store;
  std::string content = RandomBytes(10000, 9);
  // An interrupted resumable write leaves bytes behind; a live writer holds its own.
  {
    auto writer = store.NewWriter({content.size(), Sha256Hex(content), "", true});
    REQUIRE(writer.ok());
    REQUIRE((*writer)->Append(content.data(), 4000).ok());
  }
  auto live = store.NewWriter({5, "", ""});
  REQUIRE(live.ok());
  REQUIRE((*live)->Append("abc", 3).ok());
  auto recent = store.SweepTemporaries(NowUnixMillis() - 60000, false);
  REQUIRE(recent.ok());
  CHECK(recent->files == 0);
  auto dry = store.SweepTemporaries(NowUnixMillis() + 1000, true);
  REQUIRE(dry.ok());
  CHECK(dry->files == 1);
  CHECK(dry->bytes == 4000);
  auto swept = store.SweepTemporaries(NowUnixMillis() + 1000, false);
  REQUIRE(swept.ok());
  CHECK(swept->files == 1);
  CHECK(swept->bytes == 4000);
  // The live writer still finishes, and nothing is left to resume from.
  REQUIRE((*live)->Append("de", 2).ok());
  REQUIRE((*live)->Commit().ok());
  auto resumed = store.NewWriter({content.size(), Sha256Hex(content), "", true});
  REQUIRE(resumed.ok());
  CHECK((*resumed)->resumed_bytes() == 0);

  REQUIRE(Put(store, "rotten").ok());
  REQUIRE(store.Quarantine(Sha256Hex("rotten")).ok());
  auto young = store.SweepQuarantine(NowUnixMillis() - 60000, false);
  REQUIRE(young.ok());
  CHECK(young->files == 0);
  auto old = store.SweepQuarantine(NowUnixMillis() + 1000, false);
  REQUIRE(old.ok());
  CHECK(old->files == 1);
  CHECK(old->bytes == 6);
}

}  // namespace hubmirror::storage::conformance
