// S3Client against a real S3 server: Ceph's RADOS Gateway, started for the run by
// tests/support/ceph_rgw.sh (the s3_server fixture in tests/CMakeLists.txt), whose endpoint and
// keys are read from the file it writes. Each test case works in a bucket of its own.
#include "storage/s3_client.h"

#include <curl/curl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "common/digest.h"
#include "tests/storage/s3_test_bucket.h"

namespace hubmirror::storage {
namespace {

using testing::NewTestBucket;
using testing::SameBucket;

std::string Read(S3Client& client, const std::string& key, uint64_t offset = 0,
                 std::optional<uint64_t> length = std::nullopt) {
  std::string bytes;
  Status got = client.Get(key, offset, length, [&](const char* data, size_t size) {
    bytes.append(data, size);
    return Status::Ok();
  });
  REQUIRE(got.ok());
  return bytes;
}

// A GET of `url` with no credentials, as a client following a redirect makes it: status, body.
std::pair<long, std::string> PlainGet(const std::string& url) {
  CURL* handle = curl_easy_init();
  std::string body;
  curl_easy_setopt(handle, CURLOPT_URL, url.c_str());
  curl_easy_setopt(
      handle, CURLOPT_WRITEFUNCTION, +[](char* data, size_t size, size_t count, void* out) {
        static_cast<std::string*>(out)->append(data, size * count);
        return size * count;
      });
  curl_easy_setopt(handle, CURLOPT_WRITEDATA, &body);
  long status = 0;
  if (curl_easy_perform(handle) == CURLE_OK) {
    curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &status);
  }
  curl_easy_cleanup(handle);
  return {status, body};
}

std::string Pattern(size_t size, int seed) {
  std::string bytes(size, '\0');
  for (size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>((i * 131 + seed * 7) % 251);
  return bytes;
}

TEST_CASE("objects are put, described, read whole and in ranges, and deleted", "[s3]") {
  auto client = NewTestBucket("objects", "hm/");
  REQUIRE(client->CreateBucket().ok());  // again: the bucket is this account's already
  CHECK_FALSE(client->Head("blobs/missing").value().has_value());
  CHECK(
      client
          ->Get("blobs/missing", 0, std::nullopt, [](const char*, size_t) { return Status::Ok(); })
          .code() == StatusCode::kNotFound);

  std::string content = Pattern(100000, 1);
  REQUIRE(client->Put("blobs/a", content).ok());
  auto head = client->Head("blobs/a");
  REQUIRE(head.ok());
  REQUIRE(head->has_value());
  CHECK((*head)->size == content.size());
  CHECK((*head)->key == "hm/blobs/a");
  CHECK((*head)->modified_ms > 0);
  CHECK(Read(*client, "blobs/a") == content);
  CHECK(Read(*client, "blobs/a", 99990) == content.substr(99990));
  CHECK(Read(*client, "blobs/a", 10, 20) == content.substr(10, 20));

  // Keys the URL must encode, signed as S3 expects them.
  for (std::string key : {"odd/a b+c=d&e", "odd/\xc3\xa9t\xc3\xa9", "odd/x%41y"}) {
    REQUIRE(client->Put(key, key).ok());
    CHECK(Read(*client, key) == key);
  }

  REQUIRE(client->Delete("blobs/a").ok());
  CHECK_FALSE(client->Head("blobs/a").value().has_value());
  CHECK(client->Delete("blobs/a").ok());  // absent already
}

TEST_CASE("virtual-host addressing reaches the same bucket", "[s3]") {
  auto path_style = NewTestBucket("virtual", "hm/");
  REQUIRE(path_style->Put("blobs/a", "by path").ok());
  S3Location location = path_style->location();
  // The gateway answers virtual hosts under localhost (tests/support/ceph_rgw.sh).
  location.endpoint.replace(location.endpoint.find("127.0.0.1"), 9, "localhost");
  location.virtual_host = true;
  auto virtual_host = std::make_unique<S3Client>(location, testing::TestCredentials());
  CHECK(Read(*virtual_host, "blobs/a") == "by path");
  REQUIRE(virtual_host->Put("blobs/b", "by virtual host").ok());
  CHECK(Read(*path_style, "blobs/b") == "by virtual host");
  auto page = virtual_host->List("blobs/", std::nullopt);
  REQUIRE(page.ok());
  CHECK(page->objects.size() == 2);
  auto id = virtual_host->StartMultipart("blobs/c");
  REQUIRE(id.ok());
  auto part = virtual_host->PutPart("blobs/c", *id, 1, "in one part");
  REQUIRE(part.ok());
  REQUIRE(virtual_host->CompleteMultipart("blobs/c", *id, {*part}).ok());
  CHECK(Read(*path_style, "blobs/c") == "in one part");

  // Presigned URLs in both addressings: a plain GET with no credentials reads the object; a
  // tampered signature is refused.
  for (const S3Client* client : {path_style.get(), virtual_host.get()}) {
    std::string url = client->PresignGet("blobs/b", 600);
    INFO(url);
    CHECK(url.find(testing::TestCredentials().secret_key) == std::string::npos);
    auto [status, body] = PlainGet(url);
    CHECK(status == 200);
    CHECK(body == "by virtual host");
    std::string tampered = url;
    char& last = tampered.back();
    last = last == '0' ? '1' : '0';
    CHECK(PlainGet(tampered).first == 403);
  }
}

TEST_CASE("listings show what is under a prefix, and only that", "[s3]") {
  auto client = NewTestBucket("listing", "hm/");
  auto other = SameBucket(*client, "");
  REQUIRE(other->Put("outside", "x").ok());
  for (int i = 0; i < 3; ++i) REQUIRE(client->Put("blobs/" + std::to_string(i), "abc").ok());
  REQUIRE(client->Put("leases/x", "").ok());
  auto page = client->List("blobs/", std::nullopt);
  REQUIRE(page.ok());
  CHECK_FALSE(page->next_token.has_value());
  std::vector<std::string> keys;
  for (const auto& object : page->objects) {
    keys.push_back(client->RelativeKey(object.key).value());
    CHECK(object.size == 3);
  }
  CHECK(keys == std::vector<std::string>{"blobs/0", "blobs/1", "blobs/2"});
  CHECK_FALSE(client->RelativeKey("outside").has_value());
}

TEST_CASE("a multipart upload is invisible until completed, and aborted leaves nothing", "[s3]") {
  auto client = NewTestBucket("multipart");
  std::string first = Pattern(5 << 20, 2);
  std::string last = Pattern(1 << 20, 3);
  auto id = client->StartMultipart("blobs/big");
  REQUIRE(id.ok());
  auto part1 = client->PutPart("blobs/big", *id, 1, first);
  auto part2 = client->PutPart("blobs/big", *id, 2, last);
  REQUIRE(part1.ok());
  REQUIRE(part2.ok());
  CHECK_FALSE(client->Head("blobs/big").value().has_value());
  auto pending = client->ListMultipart("blobs/", std::nullopt);
  REQUIRE(pending.ok());
  REQUIRE(pending->uploads.size() == 1);
  CHECK(pending->uploads[0].upload_id == *id);
  CHECK(pending->uploads[0].initiated_ms > 0);

  REQUIRE(client->CompleteMultipart("blobs/big", *id, {*part1, *part2}).ok());
  CHECK(Sha256Hex(Read(*client, "blobs/big")) == Sha256Hex(first + last));
  CHECK(client->ListMultipart("blobs/", std::nullopt)->uploads.empty());

  auto dropped = client->StartMultipart("blobs/dropped");
  REQUIRE(dropped.ok());
  REQUIRE(client->PutPart("blobs/dropped", *dropped, 1, last).ok());
  REQUIRE(client->AbortMultipart("blobs/dropped", *dropped).ok());
  CHECK(client->ListMultipart("blobs/", std::nullopt)->uploads.empty());
  CHECK_FALSE(client->Head("blobs/dropped").value().has_value());
  // Completing with a part the server does not have fails, and shows nothing.
  auto wrong = client->StartMultipart("blobs/wrong");
  REQUIRE(wrong.ok());
  CHECK_FALSE(client->CompleteMultipart("blobs/wrong", *wrong, {"\"0123\""}).ok());
  CHECK_FALSE(client->Head("blobs/wrong").value().has_value());
  REQUIRE(client->AbortMultipart("blobs/wrong", *wrong).ok());
}

TEST_CASE("copying an object onto itself refreshes its time", "[s3]") {
  auto client = NewTestBucket("copy");
  REQUIRE(client->Put("blobs/a", "content").ok());
  int64_t before = client->Head("blobs/a").value()->modified_ms;
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // Last-Modified has seconds
  REQUIRE(client->Copy("blobs/a", "blobs/a").ok());
  CHECK(client->Head("blobs/a").value()->modified_ms > before);
  REQUIRE(client->Copy("blobs/a", "quarantine/a").ok());
  CHECK(Read(*client, "quarantine/a") == "content");
}

TEST_CASE("a wrong secret is refused, and never shown", "[s3]") {
  auto good = NewTestBucket("refused");
  const std::string secret = "wrong-secret-that-must-not-appear";
  auto client = SameBucket(*good, "", secret);
  Status put = client->Put("blobs/a", "x");
  CHECK(put.code() == StatusCode::kFailedPrecondition);
  CHECK_THAT(put.message(), Catch::Contains("403"));
  CHECK_THAT(put.message(), !Catch::Contains(secret));
  CHECK_FALSE(good->Head("blobs/a").value().has_value());
}

TEST_CASE("credentials come from the environment, else from their file", "[s3]") {
  unsetenv("AWS_ACCESS_KEY_ID");
  unsetenv("AWS_SECRET_ACCESS_KEY");
  CHECK(LoadS3Credentials("").status().code() == StatusCode::kInvalidArgument);
  std::string file = std::string(std::getenv("HUBMIRROR_TEST_S3_DIR")) + "/credentials-test";
  {
    std::ofstream out(file);
    out << "# test keys\nAWS_ACCESS_KEY_ID = from-file\nAWS_SECRET_ACCESS_KEY=s3cret # comment\n";
  }
  auto from_file = LoadS3Credentials(file);
  REQUIRE(from_file.ok());
  CHECK(from_file->access_key == "from-file");
  CHECK(from_file->secret_key == "s3cret");
  setenv("AWS_ACCESS_KEY_ID", "from-env", 1);
  setenv("AWS_SECRET_ACCESS_KEY", "env-secret", 1);
  CHECK(LoadS3Credentials(file)->access_key == "from-env");
  unsetenv("AWS_ACCESS_KEY_ID");
  unsetenv("AWS_SECRET_ACCESS_KEY");
  {
    std::ofstream out(file);
    out << "AWS_ACCESS_KEY_ID=only-the-key\n";
  }
  auto half = LoadS3Credentials(file);
  CHECK(half.status().code() == StatusCode::kInvalidArgument);
  CHECK_THAT(half.status().message(), !Catch::Contains("only-the-key"));
}

}  // namespace
}  // namespace hubmirror::storage
