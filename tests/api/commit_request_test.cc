#include "api/commit_request.h"

#include <catch2/catch.hpp>

namespace hubmirror::api {
namespace {

using Kind = CommitOperation::Kind;

TEST_CASE("A Python client's commit body, with its trailing newline", "[publish]") {
  auto request = ParseCommitRequest(
      "{\"key\": \"header\", \"value\": {\"summary\": \"Upload app.py\", \"description\": \"\", "
      "\"parentCommit\": \"ABCDEF12\"}}\n"
      "{\"key\": \"file\", \"value\": {\"content\": \"aGVsbG8=\", \"path\": \"src/app.py\", "
      "\"encoding\": \"base64\"}}\n"
      "{\"key\": \"deletedFolder\", \"value\": {\"path\": \"runs/\"}}\n");
  REQUIRE(request.ok());
  CHECK(request->summary == "Upload app.py");
  CHECK(request->parent_commit == std::string("ABCDEF12"));
  REQUIRE(request->operations.size() == 2);
  CHECK(request->operations[0].kind == Kind::kAddFile);
  CHECK(request->operations[0].path == "src/app.py");
  CHECK(request->operations[0].content == "hello");
  CHECK(request->operations[1].kind == Kind::kDeleteFolder);
  CHECK(request->operations[1].path == "runs");
}

TEST_CASE("A JS client's commit body, without a trailing newline", "[publish]") {
  std::string oid(64, 'a');
  auto request = ParseCommitRequest(
      "{\"key\":\"header\",\"value\":{\"summary\":\"js\"}}\n"
      "{\"key\":\"lfsFile\",\"value\":{\"path\":\"w.bin\",\"algo\":\"sha256\",\"oid\":\"" +
      oid + "\",\"size\":12}}\n{\"key\":\"deletedFile\",\"value\":{\"path\":\"old.txt\"}}");
  REQUIRE(request.ok());
  REQUIRE(request->operations.size() == 2);
  CHECK(request->operations[0].kind == Kind::kAddLfsFile);
  CHECK(request->operations[0].sha256 == oid);
  CHECK(request->operations[0].size == uint64_t{12});
  CHECK(request->operations[1].kind == Kind::kDeleteFile);
  CHECK_FALSE(request->parent_commit.has_value());
}

TEST_CASE("Malformed commit bodies are refused naming the line", "[publish]") {
  const std::string header = "{\"key\":\"header\",\"value\":{\"summary\":\"x\"}}\n";
  struct Case {
    std::string body;
    std::string message;
  };
  std::vector<Case> cases = {
      {"", "no header"},
      {"{\"key\":\"file\",\"value\":{\"path\":\"a\",\"content\":\"\"}}", "header must come first"},
      {header + header, "second header"},
      {header + "[1]", "line 2: not a JSON object"},
      {header + "{\"key\":\"file\",\"value\":{\"path\":\"../a\",\"content\":\"\"}}", "line 2"},
      {header + "{\"key\":\"file\",\"value\":{\"path\":\"a\",\"content\":\"!!!\"}}", "base64"},
      {header + "{\"key\":\"lfsFile\",\"value\":{\"path\":\"a\",\"oid\":\"xyz\"}}", "sha256"},
      {header + "{\"key\":\"copyFile\",\"value\":{\"path\":\"a\"}}", "unknown key"},
      {"{\"key\":\"header\",\"value\":{\"parentCommit\":\"12\"}}", "5 to 40 hex"},
  };
  for (const auto& c : cases) {
    INFO(c.body);
    auto request = ParseCommitRequest(c.body);
    REQUIRE_FALSE(request.ok());
    CHECK(request.status().code() == StatusCode::kInvalidArgument);
    CHECK_THAT(request.status().message(), Catch::Contains(c.message));
  }
}

}  // namespace
}  // namespace hubmirror::api
