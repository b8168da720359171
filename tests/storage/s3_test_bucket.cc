#include "tests/storage/s3_test_bucket.h"

#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <map>

namespace hubmirror::storage::testing {
namespace {

// The server's endpoint and keys, from the fixture's env file.
std::map<std::string, std::string> ServerEnv() {
  const char* dir = std::getenv("HUBMIRROR_TEST_S3_DIR");
  REQUIRE(dir != nullptr);
  std::ifstream in(std::string(dir) + "/env");
  REQUIRE(in);
  std::map<std::string, std::string> env;
  std::string line;
  while (std::getline(in, line)) {
    size_t equals = line.find('=');
    if (equals != std::string::npos) env[line.substr(0, equals)] = line.substr(equals + 1);
  }
  REQUIRE(env.count("S3_ENDPOINT") == 1);
  return env;
}

}  // namespace

S3Credentials TestCredentials() {
  auto env = ServerEnv();
  return {env["S3_ACCESS_KEY"], env["S3_SECRET_KEY"]};
}

std::unique_ptr<S3Client> NewTestBucket(const std::string& name, const std::string& prefix) {
  static std::atomic<int> buckets{0};
  auto env = ServerEnv();
  S3Location location;
  location.endpoint = env["S3_ENDPOINT"];
  location.bucket = name + "-" + std::to_string(getpid()) + "-" + std::to_string(++buckets);
  location.prefix = prefix;
  auto client = std::make_unique<S3Client>(location, TestCredentials());
  Status created = client->CreateBucket();
  INFO(created.message());
  REQUIRE(created.ok());
  return client;
}

std::unique_ptr<S3Client> SameBucket(const S3Client& client, const std::string& prefix,
                                     const std::string& secret) {
  S3Location location = client.location();
  location.prefix = prefix;
  S3Credentials credentials = TestCredentials();
  if (!secret.empty()) credentials.secret_key = secret;
  return std::make_unique<S3Client>(location, credentials);
}

}  // namespace hubmirror::storage::testing
