#include "cli/config_file.h"

#include <catch2/catch.hpp>
#include <cstdlib>

#include "cli/commands.h"
#include "cli/effective_config.h"
#include "cli/options.h"
#include "tests/support/temp_dir.h"

namespace hubmirror::cli {
namespace {

using testing::TempDir;
using testing::WriteFile;

Result<sync::ScheduleConfig> Load(const TempDir& dir, const std::string& text) {
  WriteFile(dir / "hubmirror.toml", text);
  return LoadConfig(dir / "hubmirror.toml");
}

TEST_CASE("The example config loads as documented", "[config]") {
  auto config = LoadConfig(std::string(HUBMIRROR_SOURCE_DIR) + "/deploy/hubmirror.example.toml");
  REQUIRE(config.ok());
  CHECK(config->upstream.base_url == "https://huggingface.co");
  CHECK(config->interval == std::chrono::seconds(3600));
  CHECK(config->upstream.max_attempts == 6);
  REQUIRE(config->mirrors.size() == 3);
  CHECK(config->mirrors[1].exclude == std::vector<std::string>{"onnx/*", "runs/*"});
  CHECK(config->mirrors[2].include.size() == 4);
  CHECK(config->mirrors[0].concurrency == 4);
}

TEST_CASE("The example config pulls every repo through", "[config]") {
  auto policy =
      LoadPullThroughPolicy(std::string(HUBMIRROR_SOURCE_DIR) + "/deploy/hubmirror.example.toml");
  REQUIRE(policy.ok());
  REQUIRE(policy->has_value());
  CHECK((*policy)->allow == std::vector<std::string>{"*"});
  CHECK((*policy)->max_age == std::chrono::seconds(600));
  CHECK_FALSE((*policy)->gated);
}

TEST_CASE("A pull-through config needs no schedule and no rule, only an upstream", "[config]") {
  TempDir dir;
  WriteFile(dir / "pull.toml", R"(
[upstream]
url = "http://127.0.0.1:9"
[pull_through]
enabled = true
allow = ["acme/*", "datasets/open/*"]
deny = ["acme/secret-*"]
max_age_seconds = 5
gated = true
anonymous = false
)");
  auto config = LoadConfig(dir / "pull.toml");
  REQUIRE(config.ok());
  CHECK(config->mirrors.empty());
  auto policy = LoadPullThroughPolicy(dir / "pull.toml");
  REQUIRE(policy.ok());
  REQUIRE(policy->has_value());
  const sync::PullThroughPolicy& pull = **policy;
  CHECK(pull.allow == std::vector<std::string>{"acme/*", "datasets/open/*"});
  CHECK(pull.deny == std::vector<std::string>{"acme/secret-*"});
  CHECK(pull.max_age == std::chrono::seconds(5));
  CHECK(pull.gated);
  CHECK_FALSE(pull.anonymous);

  WriteFile(dir / "off.toml",
            "[upstream]\nurl = \"http://127.0.0.1:9\"\n[pull_through]\nenabled = false\n");
  auto off = LoadPullThroughPolicy(dir / "off.toml");
  REQUIRE(off.ok());
  CHECK_FALSE(off->has_value());
}

TEST_CASE("The daemon's upkeep is read from [gc] and [verify]", "[config]") {
  TempDir dir;
  WriteFile(dir / "upkeep.toml", R"(
[access]
anonymous = "read"
[gc]
interval_seconds = 3600
grace_seconds = 0
quarantine_seconds = 86400
[verify]
interval_seconds = 86400
max_bytes_per_second = 50000000
)");
  REQUIRE(LoadConfig(dir / "upkeep.toml").ok());
  auto upkeep = LoadMaintenanceConfig(dir / "upkeep.toml");
  REQUIRE(upkeep.ok());
  CHECK(upkeep->gc_interval == std::chrono::seconds(3600));
  CHECK(upkeep->gc.grace == std::chrono::seconds(0));
  CHECK(upkeep->gc.quarantine_age == std::chrono::seconds(86400));
  CHECK(upkeep->verify_interval == std::chrono::seconds(86400));
  CHECK(upkeep->verify_max_bytes_per_second == 50000000);

  WriteFile(dir / "none.toml", "[access]\nanonymous = \"read\"\n");
  auto none = LoadMaintenanceConfig(dir / "none.toml");
  REQUIRE(none.ok());
  CHECK_FALSE(none->gc_interval);
  CHECK_FALSE(none->verify_interval);

  WriteFile(dir / "bad.toml", "[gc]\ninterval_seconds = 0\n");
  auto bad = LoadMaintenanceConfig(dir / "bad.toml");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message().find("gc.interval_seconds") != std::string::npos);
  WriteFile(dir / "typo.toml", "[verify]\nmax_rate = 1\n");
  auto typo = LoadMaintenanceConfig(dir / "typo.toml");
  REQUIRE_FALSE(typo.ok());
  CHECK(typo.status().message().find("max_rate") != std::string::npos);
}

TEST_CASE("A malformed pull-through config names the key", "[config]") {
  TempDir dir;
  auto refused = [&](const std::string& text, const std::string& key) {
    WriteFile(dir / "bad.toml", text);
    auto policy = LoadPullThroughPolicy(dir / "bad.toml");
    REQUIRE_FALSE(policy.ok());
    CHECK(policy.status().code() == StatusCode::kInvalidArgument);
    CHECK(policy.status().message().find(key) != std::string::npos);
  };
  refused("[pull_through]\nenabled = true\n", "upstream");
  refused("[upstream]\nurl = \"http://h\"\n[pull_through]\nenabled = true\nallow = [\"acme\"]\n",
          "pull_through.allow");
  refused("[upstream]\nurl = \"http://h\"\n[pull_through]\nenabled = true\nmax_age = 5\n",
          "max_age");
  refused("[upstream]\nurl = \"http://h\"\n[pull_through]\nenabled = true\ngated = \"no\"\n",
          "pull_through.gated");
}

TEST_CASE("Every key of the config is read", "[config]") {
  TempDir dir;
  ::setenv("HUBMIRROR_TEST_TOKEN", "hf_secret", 1);
  auto config = Load(dir, R"(
[upstream]
url = "http://127.0.0.1:9"
token_env = "HUBMIRROR_TEST_TOKEN"
[schedule]
interval_seconds = 60
[sync]
concurrency = 8
retries = 2
stall_timeout_seconds = 5
limit_rate = 1000
[[mirror]]
repo = "acme/*"
type = "dataset"
revision = "v1"
[[mirror]]
repo = "acme/model"
revisions = ["main", "refs/pr/*", "tags/*"]
access = "gated-manual"
grant = ["alice", "ml-team"]
writable = true
ancestors = true
descendants = ["adapter", "quantized"]
min_downloads = 10
max_count = 3
lineage_metadata_only = true
keep_revisions = 5
keep_within = "90d"
)");
  REQUIRE(config.ok());
  CHECK(config->upstream.token == "hf_secret");
  CHECK(config->token_env == "HUBMIRROR_TEST_TOKEN");
  // Rules are numbered as in the file, whatever revisions each expands to.
  CHECK(config->rule_numbers == std::vector<size_t>{1, 2, 2, 2});
  CHECK(config->interval == std::chrono::seconds(60));
  CHECK(config->upstream.max_attempts == 3);
  CHECK(config->upstream.stall_timeout_seconds == 5);
  CHECK(config->upstream.max_bytes_per_second == 1000);
  // One rule per revision.
  REQUIRE(config->mirrors.size() == 4);
  CHECK(config->mirrors[0].type == RepoType::kDataset);
  CHECK(config->mirrors[0].revision == "v1");
  CHECK(config->mirrors[0].concurrency == 8);
  CHECK(config->mirrors[1].revision == "main");
  CHECK(config->mirrors[2].revision == "refs/pr/*");
  CHECK(config->mirrors[3].revision == "tags/*");
  CHECK(config->mirrors[3].repo == "acme/model");
  CHECK(config->mirrors[3].access.gated == "manual");
  CHECK(config->mirrors[3].access.is_private == false);
  CHECK(config->mirrors[3].grants == std::vector<std::string>{"alice", "ml-team"});
  CHECK(config->mirrors[3].writable == true);
  CHECK(config->mirrors[0].writable == false);  // a rule says it either way: the default is no
  CHECK_FALSE(config->mirrors[0].access.gated.has_value());
  CHECK_FALSE(config->mirrors[0].access.is_private.has_value());
  const auto& lineage = config->mirrors[3].lineage;
  CHECK(lineage.ancestors);
  CHECK(lineage.descendant_relations == std::vector<std::string>{"adapter", "quantized"});
  CHECK(lineage.min_downloads == 10);
  CHECK(lineage.max_count == 3);
  CHECK(lineage.metadata_only);
  CHECK(config->mirrors[3].retention.revisions == size_t{5});
  CHECK(config->mirrors[3].retention.within_seconds == int64_t{90 * 86400});
  CHECK_FALSE(config->mirrors[0].retention.Any());
}

TEST_CASE("The access policy is read from [access]", "[config]") {
  TempDir dir;
  CHECK(Load(dir, "[access]\nanonymous = \"none\"\n").ok());
  auto none = LoadAccessPolicy(dir / "hubmirror.toml");
  REQUIRE(none.ok());
  CHECK_FALSE(none->anonymous_read);
  WriteFile(dir / "hubmirror.toml", "[upstream]\nurl = \"http://127.0.0.1:9\"\n");
  CHECK(LoadAccessPolicy(dir / "hubmirror.toml")->anonymous_read);
  WriteFile(dir / "hubmirror.toml", "[access]\nanonymous = \"write\"\n");
  auto refused = LoadAccessPolicy(dir / "hubmirror.toml");
  REQUIRE_FALSE(refused.ok());
  CHECK_THAT(refused.status().message(), Catch::Contains("access.anonymous"));
  WriteFile(dir / "hubmirror.toml", "[access]\nanonymus = \"none\"\n");
  CHECK_THAT(LoadAccessPolicy(dir / "hubmirror.toml").status().message(),
             Catch::Contains("access.anonymus"));
  // Mirroring still needs an upstream.
  CHECK_FALSE(Load(dir, "[access]\n[[mirror]]\nrepo = \"a/b\"\n").ok());
}

TEST_CASE("The daemon's config gives the budget to every rule; its JSON hides the token",
          "[config]") {
  TempDir dir;
  ::setenv("HUBMIRROR_TEST_TOKEN", "hf_secret_value", 1);
  WriteFile(dir / "hubmirror.toml", R"(
[upstream]
url = "http://127.0.0.1:9"
token_env = "HUBMIRROR_TEST_TOKEN"
[[mirror]]
repo = "acme/model"
keep_within = "12h"
[storage]
max_bytes = 4096
[publish]
quota_bytes = 1000
multipart_above_bytes = 200000000
[publish.quotas]
Lab = 5000
)");
  auto config = LoadDaemonConfig(dir / "hubmirror.toml");
  REQUIRE(config.ok());
  REQUIRE(config->schedule.mirrors.size() == 1);
  CHECK(config->schedule.mirrors[0].max_store_bytes == uint64_t{4096});
  nlohmann::json effective = EffectiveConfigJson(dir / "hubmirror.toml", *config);
  CHECK(effective.dump().find("hf_secret_value") == std::string::npos);
  CHECK(effective["upstream"]["token_env"] == "HUBMIRROR_TEST_TOKEN");
  CHECK(effective["upstream"]["token"].is_string());
  CHECK(effective["mirror"][0]["rule"] == 1);
  CHECK(effective["mirror"][0]["keep_within_seconds"] == 12 * 3600);
  CHECK(effective["storage"]["max_bytes"] == 4096);
  CHECK(effective["pull_through"]["enabled"] == false);
  // Quotas: a namespace's own, else the default; names match in any case.
  CHECK(config->publishing.For("lab") == uint64_t{5000});
  CHECK(config->publishing.For("LAB") == uint64_t{5000});
  CHECK(config->publishing.For("alice") == uint64_t{1000});
  CHECK(effective["publish"]["quotas"]["lab"] == 5000);
  CHECK(config->publishing.multipart_above_bytes == 200000000);
  CHECK(effective["publish"]["multipart_above_bytes"] == 200000000);
}

TEST_CASE("A malformed config is refused naming the file, key and problem", "[config]") {
  TempDir dir;
  ::unsetenv("HUBMIRROR_UNSET_VARIABLE");
  const std::string upstream = "[upstream]\nurl = \"http://127.0.0.1:9\"\n";
  struct Case {
    std::string text;
    std::string message;
  };
  std::vector<Case> cases = {
      {"[upstream\n", "hubmirror.toml:1:"},
      {"", "missing table [upstream]"},
      {"[upstream]\n", "upstream.url"},
      {upstream + "colour = 1\n", "colour"},
      {upstream + "[schedule]\ninterval_seconds = 1\n", "schedule.interval_seconds"},
      {upstream + "[schedule]\ninterval_seconds = \"hourly\"\n", "must be an integer"},
      {upstream + "[sync]\nconcurrency = 0\n", "sync.concurrency"},
      {upstream + "[upstream.extra]\n", "upstream.extra"},
      {"[upstream]\nurl = \"x\"\ntoken_env = \"HUBMIRROR_UNSET_VARIABLE\"\n", "is not set"},
      {"mirror = 3\n" + upstream, "[[mirror]] tables"},
      {upstream + "[[mirror]]\nrepo = \"../x\"\n", "mirror[0].repo"},
      {upstream + "[[mirror]]\nrepo = \"*/x\"\n", "namespace must be literal"},
      {upstream + "[[mirror]]\nrepo = \"a/b\"\ntype = \"space\"\n", "mirror[0].type"},
      {upstream + "[[mirror]]\nrepo = \"a/b\"\ninclude = \"*.json\"\n", "array of strings"},
      {upstream + "[[mirror]]\nrepo = \"a/b\"\ndescendants = [\"cousin\"]\n", "cousin"},
      {upstream + "[[mirror]]\nrepo = \"a/b\"\ntype = \"dataset\"\nancestors = true\n",
       "models only"},
      {upstream + "[[mirror]]\nrepo = \"a/b\"\nrevison = \"main\"\n", "revison"},
      {upstream + "[[mirror]]\nrepo = \"a/b\"\nrevision = \"a\"\nrevisions = [\"b\"]\n",
       "not both"},
      {upstream + "[[mirror]]\nrepo = \"a/b\"\nrevisions = [\"main\", \"bad..name\"]\n",
       "mirror[0].revisions"},
      {upstream + "[[mirror]]\nrepo = \"a/b\"\nrevisions = [\"refs/pr/one\"]\n", "pull request"},
      {upstream + "[[mirror]]\nrepo = \"a/b\"\naccess = \"open\"\n", "mirror[0].access"},
      {upstream + "[[mirror]]\nrepo = \"a/b\"\ngrant = [\"a/b\"]\n", "mirror[0].grant"},
      {upstream + "[[mirror]]\nrepo = \"a/b\"\nkeep_within = \"soon\"\n", "mirror[0].keep_within"},
      {upstream + "[[mirror]]\nrepo = \"a/b\"\nkeep_within = 90\n", "keep_within"},
      {upstream + "[[mirror]]\nrepo = \"a/b\"\nwritable = \"yes\"\n", "mirror[0].writable"},
      {upstream + "[publish]\nquota = 1\n", "quota"},
      {upstream + "[publish]\nquota_bytes = 0\n", "publish.quota_bytes"},
      {upstream + "[publish.quotas]\n\"a/b\" = 10\n", "publish.quotas"},
      {upstream + "[publish.quotas]\nlab = \"big\"\n", "must be an integer"},
      {upstream + "[publish]\nmultipart_above_bytes = 1000\n", "publish.multipart_above_bytes"},
      {upstream + "[storage]\nbackend = \"tape\"\n", "storage.backend"},
      {upstream + "[storage]\nbackend = \"s3\"\ns3_bucket = \"hm\"\n", "storage.s3_endpoint"},
      {upstream + "[storage]\nserve = \"redirect\"\n", "needs backend"},
      {upstream + "[storage]\nserve = \"cdn\"\n", "storage.serve"},
      {upstream + "[storage]\ns3_secret = \"x\"\n", "storage.s3_secret"},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    // Everything serve reads: the schedule's loader, then those of the other tables.
    WriteFile(dir / "hubmirror.toml", c.text);
    auto config = LoadDaemonConfig(dir / "hubmirror.toml");
    REQUIRE_FALSE(config.ok());
    CHECK(config.status().code() == StatusCode::kInvalidArgument);
    CHECK_THAT(config.status().message(), Catch::Contains(c.message));
    CHECK_THAT(config.status().message(), Catch::Contains("hubmirror.toml"));
  }
}

TEST_CASE("Usage errors exit 2 before anything runs", "[config][cli]") {
  TempDir dir;
  std::string data = (dir / "data").string();
  std::vector<std::vector<const char*>> usages = {
      {"hubmirror"},
      {"hubmirror", "frobnicate"},
      {"hubmirror", "sync", "--upstream", "http://127.0.0.1:9", "--type", "space", "a/b"},
      {"hubmirror", "sync", "--upstream", "http://127.0.0.1:9", "--concurrency", "0", "a/b"},
      {"hubmirror", "sync", "--upstream", "http://127.0.0.1:9", "../x"},
      {"hubmirror", "sync", "--upstream", "http://127.0.0.1:9", "a/b@bad..name"},
      {"hubmirror", "sync", "--upstream", "http://127.0.0.1:9", "a/b@refs/convert/x y"},
      {"hubmirror", "--data", data.c_str(), "import", "--repo", "a/b", "--tag", "bad tag",
       data.c_str()},
      {"hubmirror", "--data", data.c_str(), "verify"},
      {"hubmirror", "--data", data.c_str(), "export", "--out", data.c_str(), "--volume-size",
       "lots", "--all"},
      // Access control: bad names and values, missing arguments, and valid commands on a data
      // directory that does not exist (never created for them).
      {"hubmirror", "--data", data.c_str(), "user"},
      {"hubmirror", "--data", data.c_str(), "user", "add", "acme/alice"},
      {"hubmirror", "--data", data.c_str(), "user", "add", "al--ice"},
      {"hubmirror", "--data", data.c_str(), "user", "add", "alice"},
      {"hubmirror", "--data", data.c_str(), "user", "list", "--json"},
      {"hubmirror", "--data", data.c_str(), "user", "remove"},
      {"hubmirror", "--data", data.c_str(), "org", "add", "a b"},
      {"hubmirror", "--data", data.c_str(), "org", "add-member", "acme", "alice"},
      {"hubmirror", "--data", data.c_str(), "org", "add-member", "acme", "alice", "--role",
       "owner"},
      {"hubmirror", "--data", data.c_str(), "org", "remove-member", "acme"},
      {"hubmirror", "--data", data.c_str(), "token", "create"},
      {"hubmirror", "--data", data.c_str(), "token", "create", "--user", "alice", "--scope",
       "admin"},
      {"hubmirror", "--data", data.c_str(), "token", "create", "--user", "alice", "--expires",
       "10y"},
      {"hubmirror", "--data", data.c_str(), "token", "create", "--user", "alice", "--expires",
       "0s"},
      {"hubmirror", "--data", data.c_str(), "token", "create", "--user", "alice", "--name",
       "my token"},
      {"hubmirror", "--data", data.c_str(), "token", "create", "--user", "alice"},
      {"hubmirror", "--data", data.c_str(), "token", "list", "--user", "../alice"},
      {"hubmirror", "--data", data.c_str(), "token", "revoke", "--user", "alice"},
      {"hubmirror", "--data", data.c_str(), "repo", "settings", "../x"},
      {"hubmirror", "--data", data.c_str(), "repo", "settings", "a/b", "--private", "yes"},
      {"hubmirror", "--data", data.c_str(), "repo", "settings", "a/b", "--gated", "sometimes"},
      {"hubmirror", "--data", data.c_str(), "repo", "settings", "a/b", "--gated", "auto"},
      {"hubmirror", "--data", data.c_str(), "repo", "settings", "a/b", "--keep-within", "soon"},
      {"hubmirror", "jobs", "start", "reindex"},
      {"hubmirror", "jobs", "start", "sync", "--rule", "1", "--repo", "a/b"},
      {"hubmirror", "jobs", "show"},
      {"hubmirror", "jobs", "--server", "ftp://127.0.0.1:9"},
      {"hubmirror", "--data", data.c_str(), "access", "grant", "a/b"},
      {"hubmirror", "--data", data.c_str(), "access", "grant", "a/b", "--user", "alice", "--type",
       "space"},
      {"hubmirror", "--data", data.c_str(), "access", "revoke", "a/b/c", "--user", "alice"},
      {"hubmirror", "--data", data.c_str(), "access", "revoke", "a/b", "--user", "alice"},
      {"hubmirror", "--data", data.c_str(), "audit", "--since", "forever"},
      {"hubmirror", "--data", data.c_str(), "audit", "--limit", "0"},
      {"hubmirror", "--data", data.c_str(), "audit"},
  };
  for (const auto& argv : usages) {
    INFO(argv.back());
    CHECK(RunCommandLine(static_cast<int>(argv.size()), argv.data()) == kExitUsage);
  }
  CHECK_FALSE(std::filesystem::exists(dir / "data"));
}

TEST_CASE("Sizes on the command line", "[cli]") {
  struct Case {
    const char* text;
    std::optional<uint64_t> bytes;
  };
  std::vector<Case> cases = {
      {"1048576", 1048576},  {"700M", 700ull << 20}, {"4G", 4ull << 30},
      {"1.5G", 3ull << 29},  {"64KiB", 64ull << 10}, {"2T", 2ull << 40},
      {"12B", 12},           {"0", std::nullopt},    {"0.1", std::nullopt},
      {"-4M", std::nullopt}, {"M", std::nullopt},    {"1Q", std::nullopt},
      {"", std::nullopt},    {"nan", std::nullopt},  {"1e30T", std::nullopt},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    CHECK(ParseByteSize(c.text) == c.bytes);
  }
}

}  // namespace
}  // namespace hubmirror::cli
