#include "common/names.h"

#include <catch2/catch.hpp>

namespace hubmirror {
namespace {

TEST_CASE("repo ids", "[names]") {
  struct Case {
    std::string id;
    bool valid;
  };
  auto c = GENERATE(values<Case>({
      {"acme/model", true},
      {"gpt2", true},
      {"Org-1/Model_v2.5", true},
      {"a/b", true},
      {"", false},
      {"/model", false},
      {"acme/", false},
      {"acme/model/extra", false},
      {"acme/../etc", false},
      {"acme/mo--del", false},
      {"acme/-model", false},
      {"acme/model.", false},
      {"acme/mo del", false},
      {"acme/mo\\del", false},
      {std::string("acme/mo\0del", 11), false},
      {"acme/" + std::string(96, 'x'), true},
      {"acme/" + std::string(97, 'x'), false},
  }));
  INFO("id: " << c.id);
  CHECK(ValidateRepoId(c.id).ok() == c.valid);
}

TEST_CASE("repo paths keep every printable character but refuse escapes", "[names]") {
  struct Case {
    std::string path;
    bool valid;
  };
  auto c = GENERATE(values<Case>({
      {"config.json", true},
      {"a/b/c.bin", true},
      {"docs/read me.txt", true},
      {"original\\consolidated.00.pth", true},
      {"naïve/ünïcode.txt", true},
      {".gitattributes", true},
      {"", false},
      {"/etc/passwd", false},
      {"a//b", false},
      {"a/", false},
      {"..", false},
      {"a/../b", false},
      {"./a", false},
      {"a/./b", false},
      {"a\tb", false},
      {"a\nb", false},
      {std::string("a\0b", 3), false},
      {"bad\xff utf8", false},
      {std::string(256, 'x'), false},
      {std::string(255, 'x'), true},
  }));
  INFO("path: " << c.path);
  CHECK(ValidateRepoPath(c.path).ok() == c.valid);
}

TEST_CASE("revision names", "[names]") {
  CHECK(ValidateRevisionName("main").ok());
  CHECK(ValidateRevisionName("release/v1.0").ok());
  CHECK_FALSE(ValidateRevisionName("").ok());
  CHECK_FALSE(ValidateRevisionName("a..b").ok());
  CHECK_FALSE(ValidateRevisionName("has space").ok());
  CHECK_FALSE(ValidateRevisionName("/lead").ok());
  CHECK_FALSE(ValidateRevisionName("a:b").ok());
}

}  // namespace
}  // namespace hubmirror
