#include "api/http_parsing.h"

#include <catch2/catch.hpp>

namespace hubmirror::api {
namespace {

TEST_CASE("Range parsing against a 1000-byte file", "[range]") {
  struct Case {
    std::string header;
    RangeOutcome outcome;
    uint64_t first;
    uint64_t last;
  };
  auto c = GENERATE(values<Case>({
      {"bytes=0-0", RangeOutcome::kPartial, 0, 0},
      {"bytes=0-99", RangeOutcome::kPartial, 0, 99},
      {"bytes=100-", RangeOutcome::kPartial, 100, 999},
      {"bytes=990-2000", RangeOutcome::kPartial, 990, 999},  // clamped end (hf-hub chunks)
      {"bytes=0-1000", RangeOutcome::kPartial, 0, 999},
      {"bytes=999-999", RangeOutcome::kPartial, 999, 999},
      {"bytes=-10", RangeOutcome::kPartial, 990, 999},
      {"bytes=-5000", RangeOutcome::kPartial, 0, 999},
      {"Bytes= 5 - 9 ", RangeOutcome::kPartial, 5, 9},
      {"bytes=1000-", RangeOutcome::kUnsatisfiable, 0, 0},
      {"bytes=1000-1001", RangeOutcome::kUnsatisfiable, 0, 0},
      {"bytes=-0", RangeOutcome::kUnsatisfiable, 0, 0},
      {"bytes=5-4", RangeOutcome::kMalformed, 0, 0},
      {"bytes=0-1,5-6", RangeOutcome::kMalformed, 0, 0},
      {"bytes=a-b", RangeOutcome::kMalformed, 0, 0},
      {"bytes=-", RangeOutcome::kMalformed, 0, 0},
      {"bytes=", RangeOutcome::kMalformed, 0, 0},
      {"items=0-1", RangeOutcome::kMalformed, 0, 0},
      {"bytes=99999999999999999999999-", RangeOutcome::kMalformed, 0, 0},
      {"bytes=+1-2", RangeOutcome::kMalformed, 0, 0},
      {"bytes 0-1", RangeOutcome::kMalformed, 0, 0},
  }));
  INFO("Range: " << c.header);
  ByteRange range;
  REQUIRE(ParseRange(c.header, 1000, &range) == c.outcome);
  if (c.outcome == RangeOutcome::kPartial) {
    CHECK(range.first == c.first);
    CHECK(range.last == c.last);
  }
}

TEST_CASE("Range on an empty file serves the empty body", "[range]") {
  ByteRange range;
  CHECK(ParseRange("bytes=0-0", 0, &range) == RangeOutcome::kFullBody);
  CHECK(ParseRange("bytes=-1", 0, &range) == RangeOutcome::kFullBody);
  CHECK(ParseRange("bytes=x", 0, &range) == RangeOutcome::kMalformed);
}

TEST_CASE("percent decoding", "[url]") {
  struct Case {
    std::string in;
    bool ok;
    std::string out;
  };
  auto c = GENERATE(values<Case>({
      {"plain", true, "plain"},
      {"read%20me.txt", true, "read me.txt"},
      {"refs%2Fpr%2F1", true, "refs/pr/1"},
      {"%2e%2E", true, ".."},
      {"a+b", true, "a+b"},
      {"%E2%9C%93", true, "\xE2\x9C\x93"},
      {"%", false, ""},
      {"%4", false, ""},
      {"%zz", false, ""},
      {"a%00b", false, ""},
      {"a%0Ab", false, ""},
      {"a%7f", false, ""},
      {"a\tb", false, ""},
  }));
  INFO("input: " << c.in);
  auto decoded = PercentDecode(c.in);
  REQUIRE(decoded.ok() == c.ok);
  if (c.ok) CHECK(*decoded == c.out);
}

TEST_CASE("percent encoding round-trips", "[url]") {
  CHECK(PercentEncode("read me/ü.txt", true) == "read%20me/%C3%BC.txt");
  CHECK(PercentEncode("a/b", false) == "a%2Fb");
  CHECK(PercentDecode(PercentEncode("x y/z%", false)).value() == "x y/z%");
}

TEST_CASE("query parameters", "[url]") {
  auto query = ParseQuery("expand=a&expand[]=b&flag&search=hello+world&cursor=%31&&x=");
  REQUIRE(query.ok());
  CHECK(QueryValues(*query, "expand") == std::vector<std::string>{"a", "b"});
  CHECK(QueryValue(*query, "search") == "hello world");
  CHECK(QueryValue(*query, "cursor") == "1");
  CHECK(QueryValue(*query, "flag") == "");
  CHECK(QueryValue(*query, "x") == "");
  CHECK_FALSE(QueryValue(*query, "missing"));
  CHECK_FALSE(ParseQuery("a=%zz").ok());
}

TEST_CASE("booleans in every spelling clients use", "[url]") {
  for (const char* yes : {"true", "True", "TRUE", "1"}) CHECK(ParseBool(yes) == true);
  for (const char* no : {"false", "False", "0"}) CHECK(ParseBool(no) == false);
  CHECK_FALSE(ParseBool("yes").has_value());
  CHECK_FALSE(ParseBool("").has_value());
}

TEST_CASE("If-None-Match", "[etag]") {
  std::string etag = "\"abc\"";
  CHECK(IfNoneMatchMatches("\"abc\"", etag));
  CHECK(IfNoneMatchMatches("W/\"abc\"", etag));
  CHECK(IfNoneMatchMatches("\"x\", \"abc\"", etag));
  CHECK(IfNoneMatchMatches("*", etag));
  CHECK_FALSE(IfNoneMatchMatches("\"abcd\"", etag));
  CHECK_FALSE(IfNoneMatchMatches("abc", etag));
  CHECK_FALSE(IfNoneMatchMatches("", etag));
}

}  // namespace
}  // namespace hubmirror::api
