#include "sync/multipart_uploads.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <thread>

#include "common/digest.h"
#include "storage/blob_store.h"
#include "tests/fakes/mirror_fixture.h"

namespace hubmirror::sync {
namespace {

using testing::MirrorFixture;

// Ten bytes in parts of four: parts of 4, 4 and 2 bytes.
const std::string kContent = "0123456789";
const uint64_t kPart = 4;

struct MultipartFixture : MirrorFixture {
  MultipartFixture() : uploads(store) {}

  MultipartUploads::Key Key() const { return {"alice", Sha256Hex(kContent)}; }
  std::string Part(uint32_t part) const { return kContent.substr((part - 1) * kPart, kPart); }

  // Sends one part whole; the status of its Finish.
  Status Send(uint32_t part, const std::string& bytes) {
    auto sink = uploads.Part(Key(), part);
    if (!sink.ok()) return sink.status();
    HM_RETURN_IF_ERROR((*sink)->Append(bytes.data(), bytes.size()));
    return (*sink)->Finish();
  }
  Status Send(uint32_t part) { return Send(part, Part(part)); }

  std::string Stored() {
    auto bytes = storage::ReadWholeBlob(store, Key().second, 1024);
    return bytes.ok() ? *bytes : "(" + bytes.status().message() + ")";
  }

  MultipartUploads uploads;
};

TEST_CASE("Parts sent in order make the object", "[multipart]") {
  MultipartFixture f;
  REQUIRE(f.uploads.Begin(f.Key(), kContent.size(), kPart).ok());
  for (uint32_t part = 1; part <= 3; ++part) REQUIRE(f.Send(part).ok());
  auto stored = f.uploads.Complete(f.Key());
  REQUIRE(stored.ok());
  CHECK(stored->sha256 == f.Key().second);
  CHECK(f.Stored() == kContent);
  // Forgotten once complete.
  CHECK(f.uploads.Complete(f.Key()).status().code() == StatusCode::kNotFound);
}

TEST_CASE("Parts sent out of order and at once are put in order", "[multipart]") {
  MultipartFixture f;
  REQUIRE(f.uploads.Begin(f.Key(), kContent.size(), kPart).ok());
  // Parts 3 and 2 arrive while part 1 is still being received.
  auto first = f.uploads.Part(f.Key(), 1);
  REQUIRE(first.ok());
  REQUIRE((*first)->Append("01", 2).ok());
  REQUIRE(f.Send(3).ok());
  REQUIRE(f.Send(2).ok());
  auto early = f.uploads.Complete(f.Key());
  CHECK(early.status().code() == StatusCode::kFailedPrecondition);
  CHECK(early.status().message().find("missing parts 1 of 3") != std::string::npos);
  REQUIRE((*first)->Append("23", 2).ok());
  REQUIRE((*first)->Finish().ok());
  REQUIRE(f.uploads.Complete(f.Key()).ok());
  CHECK(f.Stored() == kContent);
}

TEST_CASE("Parts from several threads make the object", "[multipart]") {
  MultipartFixture f;
  std::string content(64 * 1024 + 5, '\0');
  for (size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>(i * 7 % 251);
  MultipartUploads::Key key{"alice", Sha256Hex(content)};
  const uint64_t part_bytes = 4096;
  REQUIRE(f.uploads.Begin(key, content.size(), part_bytes).ok());
  const uint32_t parts = static_cast<uint32_t>((content.size() + part_bytes - 1) / part_bytes);
  std::vector<std::thread> senders;
  std::atomic<int> failures{0};
  for (uint32_t lane = 0; lane < 4; ++lane) {
    senders.emplace_back([&, lane] {
      // Each lane sends every fourth part from the last down (the unsigned count ends the loop
      // when it passes 1), so most parts arrive early.
      for (uint32_t part = parts - lane; part >= 1 && part <= parts; part -= 4) {
        std::string bytes = content.substr((part - 1) * part_bytes, part_bytes);
        auto sink = f.uploads.Part(key, part);
        if (!sink.ok() || !(*sink)->Append(bytes.data(), bytes.size()).ok() ||
            !(*sink)->Finish().ok()) {
          ++failures;
        }
      }
    });
  }
  for (auto& sender : senders) sender.join();
  CHECK(failures == 0);
  auto stored = f.uploads.Complete(key);
  REQUIRE(stored.ok());
  CHECK(storage::ReadWholeBlob(f.store, key.second, content.size()).value() == content);
}

TEST_CASE("Large early parts, which the store writes behind, are copied whole", "[multipart]") {
  MultipartFixture f;
  const uint64_t part_bytes = 5 << 20;
  std::string content(2 * part_bytes + (1 << 20) + 3, '\0');
  for (size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>(i * 13 % 253);
  MultipartUploads::Key key{"alice", Sha256Hex(content)};
  REQUIRE(f.uploads.Begin(key, content.size(), part_bytes).ok());
  for (uint32_t part : {3u, 2u, 1u}) {
    auto sink = f.uploads.Part(key, part);
    REQUIRE(sink.ok());
    std::string bytes = content.substr((part - 1) * part_bytes, part_bytes);
    // In odd pieces, as a connection delivers them.
    for (size_t offset = 0; offset < bytes.size(); offset += 999983) {
      size_t size = std::min<size_t>(999983, bytes.size() - offset);
      REQUIRE((*sink)->Append(bytes.data() + offset, size).ok());
    }
    REQUIRE((*sink)->Finish().ok());
  }
  REQUIRE(f.uploads.Complete(key).ok());
  CHECK(storage::ReadWholeBlob(f.store, key.second, content.size()).value() == content);
}

TEST_CASE("A part sent again is dropped; an early part that broke off may be sent again",
          "[multipart]") {
  MultipartFixture f;
  REQUIRE(f.uploads.Begin(f.Key(), kContent.size(), kPart).ok());
  REQUIRE(f.Send(1).ok());
  REQUIRE(f.Send(1, "xxxx").ok());  // a retry of a received part changes nothing
  {
    auto broken = f.uploads.Part(f.Key(), 3);
    REQUIRE(broken.ok());
    REQUIRE((*broken)->Append("8", 1).ok());
  }  // the connection dropped: the part is forgotten
  REQUIRE(f.Send(3).ok());
  REQUIRE(f.Send(2).ok());
  REQUIRE(f.uploads.Complete(f.Key()).ok());
  CHECK(f.Stored() == kContent);
}

TEST_CASE("A part that broke off while written in place fails the upload", "[multipart]") {
  MultipartFixture f;
  REQUIRE(f.uploads.Begin(f.Key(), kContent.size(), kPart).ok());
  {
    auto broken = f.uploads.Part(f.Key(), 1);
    REQUIRE(broken.ok());
    REQUIRE((*broken)->Append("01", 2).ok());
  }
  auto next = f.uploads.Part(f.Key(), 2);
  CHECK(next.status().code() == StatusCode::kFailedPrecondition);
  CHECK(next.status().message().find("part 1 of 3") != std::string::npos);
  CHECK(f.uploads.Complete(f.Key()).status().code() == StatusCode::kFailedPrecondition);
  // Beginning again starts afresh.
  REQUIRE(f.uploads.Begin(f.Key(), kContent.size(), kPart).ok());
  for (uint32_t part = 1; part <= 3; ++part) REQUIRE(f.Send(part).ok());
  REQUIRE(f.uploads.Complete(f.Key()).ok());
}

TEST_CASE("Parts of the wrong size or number, and wrong bytes, are refused", "[multipart]") {
  MultipartFixture f;
  CHECK(f.uploads.Part(f.Key(), 1).status().code() == StatusCode::kNotFound);
  REQUIRE(f.uploads.Begin(f.Key(), kContent.size(), kPart).ok());
  CHECK(f.uploads.Part(f.Key(), 0).status().code() == StatusCode::kInvalidArgument);
  CHECK(f.uploads.Part(f.Key(), 4).status().code() == StatusCode::kInvalidArgument);
  CHECK(f.Send(3, "8").code() == StatusCode::kCorrupt);    // two bytes expected
  CHECK(f.Send(3, "89x").code() == StatusCode::kCorrupt);  // more than two
  CHECK(f.Send(2).ok());
  {
    auto twice = f.uploads.Part(f.Key(), 3);
    REQUIRE(twice.ok());
    CHECK(f.uploads.Part(f.Key(), 3).status().code() == StatusCode::kFailedPrecondition);
  }
  REQUIRE(f.Send(1).ok());
  REQUIRE(f.Send(3, "8x").ok());  // the right size, the wrong bytes
  CHECK(f.uploads.Complete(f.Key()).status().code() == StatusCode::kCorrupt);
  CHECK_FALSE(f.store.Contains(f.Key().second).value());
}

}  // namespace
}  // namespace hubmirror::sync
