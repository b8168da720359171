#include "cli/options.h"

#include <catch2/catch.hpp>

namespace hubmirror::cli {
namespace {

TEST_CASE("Durations on the command line", "[cli]") {
  struct Case {
    const char* text;
    std::optional<int64_t> seconds;
  };
  std::vector<Case> cases = {
      {"30s", 30},
      {"15m", 15 * 60},
      {"24h", 24 * 3600},
      {"90d", 90 * 86400},
      {"1s", 1},
      {"36500d", int64_t{36500} * 86400},
      {"036s", 36},
      {"36501d", std::nullopt},
      {"99999999999999999999s", std::nullopt},
      {"0s", std::nullopt},
      {"-5m", std::nullopt},
      {"+5m", std::nullopt},
      {" 5m", std::nullopt},
      {"5 m", std::nullopt},
      {"1.5h", std::nullopt},
      {"30", std::nullopt},
      {"s", std::nullopt},
      {"10y", std::nullopt},
      {"10ms", std::nullopt},
      {"5M", std::nullopt},
      {"", std::nullopt},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    CHECK(ParseDuration(c.text) == c.seconds);
  }
}

TEST_CASE("User, organization, token and repo names on the command line", "[cli]") {
  struct Case {
    std::string text;
    bool account;  // a valid user, organization or token name
    bool repo;     // a valid repo id
  };
  std::vector<Case> cases = {
      {"alice", true, true},       {"ci-bot_2.x", true, true}, {"acme/model", false, true},
      {"a/b/c", false, false},     {"../x", false, false},     {"a..b", false, false},
      {"-alice", false, false},    {"alice.", false, false},   {"a b", false, false},
      {"", false, false},          {"al--ice", false, false},  {std::string(97, 'a'), false, false},
      {"acme/m\nx", false, false},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    std::string account = c.text;
    CHECK(AccountName()(account).empty() == c.account);
    std::string repo = c.text;
    CHECK(RepoId()(repo).empty() == c.repo);
  }
}

}  // namespace
}  // namespace hubmirror::cli
