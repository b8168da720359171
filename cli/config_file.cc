#include "cli/config_file.h"

#include <cstdlib>
#include <set>

#include "cli/config_reader.h"
#include "cli/storage_config.h"
#include "common/clock.h"
#include "sync/lineage_sync.h"

namespace hubmirror::cli {
namespace {

// A rule's `access`: the upstream's flags as they are, or settings that replace them.
bool ParseAccessRule(const std::string& text, registry::RepoAccessSettings* settings) {
  if (text == "upstream") return true;
  if (text == "private") {
    settings->is_private = true;
    return true;
  }
  settings->is_private = false;
  if (text == "public") {
    settings->gated = "false";
  } else if (text == "gated-auto" || text == "gated-manual") {
    settings->gated = text.substr(std::string("gated-").size());
  } else {
    return false;
  }
  return true;
}

}  // namespace

Result<api::AccessPolicy> LoadAccessPolicy(const std::filesystem::path& path) {
  auto root = ParseFile(path);
  if (!root.ok()) return root.status();
  ConfigReader reader(path.string());
  api::AccessPolicy policy;
  const toml::table* access = Table(*root, "access");
  if (access == nullptr) return policy;
  HM_RETURN_IF_ERROR(reader.CheckKeys(*access, "access", {"anonymous"}));
  std::string anonymous = "read";
  HM_RETURN_IF_ERROR(reader.String(*access, "access", "anonymous", &anonymous));
  if (anonymous != "read" && anonymous != "none") {
    return reader.Fail("access.anonymous", "must be \"read\" or \"none\"");
  }
  policy.anonymous_read = anonymous == "read";
  return policy;
}

Result<std::optional<sync::PullThroughPolicy>> LoadPullThroughPolicy(
    const std::filesystem::path& path) {
  auto root = ParseFile(path);
  if (!root.ok()) return root.status();
  ConfigReader reader(path.string());
  const toml::table* table = Table(*root, "pull_through");
  if (table == nullptr) return std::optional<sync::PullThroughPolicy>();
  const char* where = "pull_through";
  HM_RETURN_IF_ERROR(reader.CheckKeys(
      *table, where, {"enabled", "allow", "deny", "max_age_seconds", "gated", "anonymous"}));
  bool enabled = false;
  HM_RETURN_IF_ERROR(reader.Bool(*table, where, "enabled", &enabled));
  if (!enabled) return std::optional<sync::PullThroughPolicy>();
  if (Table(*root, "upstream") == nullptr) {
    return reader.Fail("upstream", "missing table [upstream], which pull-through fetches from");
  }
  sync::PullThroughPolicy policy;
  HM_RETURN_IF_ERROR(reader.Strings(*table, where, "allow", &policy.allow));
  HM_RETURN_IF_ERROR(reader.Strings(*table, where, "deny", &policy.deny));
  for (const auto* patterns : {&policy.allow, &policy.deny}) {
    for (const auto& pattern : *patterns) {
      if (Status valid = sync::PullThroughPolicy::ValidatePattern(pattern); !valid.ok()) {
        return reader.Fail(patterns == &policy.allow ? "pull_through.allow" : "pull_through.deny",
                           valid.message());
      }
    }
  }
  int64_t max_age = policy.max_age.count();
  HM_RETURN_IF_ERROR(reader.Integer(*table, where, "max_age_seconds", &max_age, 0, 31 * 86400));
  policy.max_age = std::chrono::seconds(max_age);
  HM_RETURN_IF_ERROR(reader.Bool(*table, where, "gated", &policy.gated));
  HM_RETURN_IF_ERROR(reader.Bool(*table, where, "anonymous", &policy.anonymous));
  return std::optional<sync::PullThroughPolicy>(std::move(policy));
}

Result<sync::MaintenanceConfig> LoadMaintenanceConfig(const std::filesystem::path& path) {
  auto root = ParseFile(path);
  if (!root.ok()) return root.status();
  ConfigReader reader(path.string());
  sync::MaintenanceConfig config;
  constexpr int64_t kMaxInterval = 365 * 86400;
  if (const toml::table* gc = Table(*root, "gc")) {
    HM_RETURN_IF_ERROR(
        reader.CheckKeys(*gc, "gc", {"interval_seconds", "grace_seconds", "quarantine_seconds"}));
    int64_t interval = 0;
    HM_RETURN_IF_ERROR(reader.Integer(*gc, "gc", "interval_seconds", &interval, 1, kMaxInterval));
    if (interval > 0) config.gc_interval = std::chrono::seconds(interval);
    int64_t grace = config.gc.grace.count();
    HM_RETURN_IF_ERROR(reader.Integer(*gc, "gc", "grace_seconds", &grace, 0, kMaxInterval));
    config.gc.grace = std::chrono::seconds(grace);
    int64_t quarantine = config.gc.quarantine_age.count();
    HM_RETURN_IF_ERROR(
        reader.Integer(*gc, "gc", "quarantine_seconds", &quarantine, 0, 10 * kMaxInterval));
    config.gc.quarantine_age = std::chrono::seconds(quarantine);
  }
  if (const toml::table* verify = Table(*root, "verify")) {
    HM_RETURN_IF_ERROR(
        reader.CheckKeys(*verify, "verify", {"interval_seconds", "max_bytes_per_second"}));
    int64_t interval = 0;
    HM_RETURN_IF_ERROR(
        reader.Integer(*verify, "verify", "interval_seconds", &interval, 1, kMaxInterval));
    if (interval > 0) config.verify_interval = std::chrono::seconds(interval);
    HM_RETURN_IF_ERROR(reader.Integer(*verify, "verify", "max_bytes_per_second",
                                      &config.verify_max_bytes_per_second, 0, INT64_MAX));
  }
  if (const toml::table* storage = Table(*root, "storage")) {
    HM_RETURN_IF_ERROR(reader.CheckKeys(*storage, "storage", StorageTableKeys()));
    uint64_t max_bytes = 0;
    HM_RETURN_IF_ERROR(reader.Integer(*storage, "storage", "max_bytes", &max_bytes, 1, INT64_MAX));
    if (max_bytes > 0) config.max_store_bytes = max_bytes;
    int64_t interval = config.budget_interval.count();
    HM_RETURN_IF_ERROR(
        reader.Integer(*storage, "storage", "check_interval_seconds", &interval, 1, kMaxInterval));
    config.budget_interval = std::chrono::seconds(interval);
  }
  return config;
}

Result<sync::ScheduleConfig> LoadConfig(const std::filesystem::path& path) {
  auto parsed = ParseFile(path);
  if (!parsed.ok()) return parsed.status();
  const toml::table& root = *parsed;
  ConfigReader reader(path.string());
  sync::ScheduleConfig config;
  HM_RETURN_IF_ERROR(reader.CheckKeys(root, "",
                                      {"upstream", "schedule", "sync", "mirror", "access",
                                       "pull_through", "gc", "verify", "storage", "publish"}));

  const toml::table* upstream = Table(root, "upstream");
  // A config that only sets access or upkeep may leave [upstream] out; one that mirrors needs it,
  // and so does pull-through (LoadPullThroughPolicy says so).
  bool other_tables = false;
  for (const char* table : {"access", "pull_through", "gc", "verify", "storage", "publish"}) {
    other_tables = other_tables || Table(root, table) != nullptr;
  }
  if (upstream == nullptr && root.get("mirror") == nullptr && other_tables) return config;
  if (upstream == nullptr) return reader.Fail("upstream", "missing table [upstream]");
  HM_RETURN_IF_ERROR(reader.CheckKeys(*upstream, "upstream", {"url", "token_env"}));
  HM_RETURN_IF_ERROR(reader.String(*upstream, "upstream", "url", &config.upstream.base_url));
  if (config.upstream.base_url.empty()) return reader.Fail("upstream.url", "missing");
  std::string token_env;
  HM_RETURN_IF_ERROR(reader.String(*upstream, "upstream", "token_env", &token_env));
  if (!token_env.empty()) {
    const char* token = std::getenv(token_env.c_str());
    if (token == nullptr || *token == '\0') {
      return reader.Fail("upstream.token_env", "environment variable " + token_env + " is not set");
    }
    config.upstream.token = token;
    config.token_env = token_env;
  }

  if (const toml::table* schedule = Table(root, "schedule")) {
    HM_RETURN_IF_ERROR(reader.CheckKeys(*schedule, "schedule", {"interval_seconds"}));
    int64_t interval = config.interval.count();
    HM_RETURN_IF_ERROR(
        reader.Integer(*schedule, "schedule", "interval_seconds", &interval, 10, 31 * 86400));
    config.interval = std::chrono::seconds(interval);
  }

  size_t concurrency = 4;
  if (const toml::table* sync = Table(root, "sync")) {
    HM_RETURN_IF_ERROR(reader.CheckKeys(
        *sync, "sync", {"concurrency", "retries", "stall_timeout_seconds", "limit_rate"}));
    HM_RETURN_IF_ERROR(reader.Integer(*sync, "sync", "concurrency", &concurrency, 1, 64));
    int retries = config.upstream.max_attempts - 1;
    HM_RETURN_IF_ERROR(reader.Integer(*sync, "sync", "retries", &retries, 0, 100));
    config.upstream.max_attempts = retries + 1;
    HM_RETURN_IF_ERROR(reader.Integer(*sync, "sync", "stall_timeout_seconds",
                                      &config.upstream.stall_timeout_seconds, 1, 3600));
    HM_RETURN_IF_ERROR(reader.Integer(*sync, "sync", "limit_rate",
                                      &config.upstream.max_bytes_per_second, 0, INT64_MAX));
  }

  const toml::node* mirrors = root.get("mirror");
  if (mirrors != nullptr && !mirrors->is_array_of_tables()) {
    return reader.Fail("mirror", "must be [[mirror]] tables");
  }
  if (mirrors != nullptr) {
    size_t index = 0;
    for (const auto& node : *mirrors->as_array()) {
      const toml::table& table = *node.as_table();
      std::string where = "mirror[" + std::to_string(index++) + "]";
      HM_RETURN_IF_ERROR(reader.CheckKeys(
          table, where,
          {"repo", "revision", "revisions", "type", "include", "exclude", "access", "grant",
           "writable", "ancestors", "descendants", "min_downloads", "max_count",
           "lineage_metadata_only", "keep_revisions", "keep_within"}));
      sync::MirrorSpec spec;
      spec.concurrency = concurrency;
      HM_RETURN_IF_ERROR(reader.String(table, where, "repo", &spec.repo));
      if (Status valid = sync::ValidateRepoRule(spec.repo); !valid.ok()) {
        return reader.Fail(where + ".repo", valid.message());
      }
      std::vector<std::string> revisions;
      HM_RETURN_IF_ERROR(reader.Strings(table, where, "revisions", &revisions));
      if (table.contains("revision")) {
        if (table.contains("revisions")) {
          return reader.Fail(where, "give either revision or revisions, not both");
        }
        HM_RETURN_IF_ERROR(reader.String(table, where, "revision", &spec.revision));
      }
      if (revisions.empty()) revisions.push_back(spec.revision);
      for (const auto& revision : revisions) {
        if (Status valid = sync::ValidateRevisionRule(revision); !valid.ok()) {
          return reader.Fail(where + ".revisions", valid.message());
        }
      }
      std::string type = "model";
      HM_RETURN_IF_ERROR(reader.String(table, where, "type", &type));
      if (!ParseRepoType(type, &spec.type)) return reader.Fail(where + ".type", "model or dataset");
      HM_RETURN_IF_ERROR(reader.Strings(table, where, "include", &spec.include));
      std::string access = "upstream";
      HM_RETURN_IF_ERROR(reader.String(table, where, "access", &access));
      if (!ParseAccessRule(access, &spec.access)) {
        return reader.Fail(where + ".access",
                           "must be upstream, public, private, gated-auto or gated-manual");
      }
      HM_RETURN_IF_ERROR(reader.Strings(table, where, "grant", &spec.grants));
      for (const auto& name : spec.grants) {
        if (!ValidateAccountName(name).ok()) {
          return reader.Fail(where + ".grant", "'" + name + "' is not a user or organization name");
        }
      }
      bool writable = false;
      HM_RETURN_IF_ERROR(reader.Bool(table, where, "writable", &writable));
      spec.writable = writable;
      HM_RETURN_IF_ERROR(reader.Strings(table, where, "exclude", &spec.exclude));
      if (table.contains("keep_revisions")) {
        size_t keep = 1;
        HM_RETURN_IF_ERROR(reader.Integer(table, where, "keep_revisions", &keep, 1, INT32_MAX));
        spec.retention.revisions = keep;
      }
      if (table.contains("keep_within")) {
        std::string within;
        HM_RETURN_IF_ERROR(reader.String(table, where, "keep_within", &within));
        std::optional<int64_t> seconds = ParseDuration(within);
        if (!seconds) {
          return reader.Fail(where + ".keep_within", "must be a duration such as 12h or 90d");
        }
        spec.retention.within_seconds = *seconds;
      }
      sync::LineageRules& lineage = spec.lineage;
      HM_RETURN_IF_ERROR(reader.Bool(table, where, "ancestors", &lineage.ancestors));
      HM_RETURN_IF_ERROR(
          reader.Strings(table, where, "descendants", &lineage.descendant_relations));
      HM_RETURN_IF_ERROR(
          reader.Integer(table, where, "min_downloads", &lineage.min_downloads, 0, INT64_MAX));
      HM_RETURN_IF_ERROR(
          reader.Integer(table, where, "max_count", &lineage.max_count, 0, INT32_MAX));
      HM_RETURN_IF_ERROR(
          reader.Bool(table, where, "lineage_metadata_only", &lineage.metadata_only));
      if (Status valid = sync::ValidateLineageRules(lineage); !valid.ok()) {
        return reader.Fail(where, valid.message());
      }
      if (lineage.Any() && spec.type != RepoType::kModel) {
        return reader.Fail(where, "ancestors and descendants apply to models only");
      }
      // One rule per revision: each is mirrored, expanded and reported on its own.
      for (const auto& revision : revisions) {
        spec.revision = revision;
        config.mirrors.push_back(spec);
        config.rule_numbers.push_back(index);
      }
    }
  }
  return config;
}

Result<api::PublishLimits> LoadPublishLimits(const std::filesystem::path& path) {
  auto root = ParseFile(path);
  if (!root.ok()) return root.status();
  ConfigReader reader(path.string());
  api::PublishLimits limits;
  const toml::table* publish = Table(*root, "publish");
  if (publish == nullptr) return limits;
  HM_RETURN_IF_ERROR(
      reader.CheckKeys(*publish, "publish", {"quota_bytes", "quotas", "multipart_above_bytes"}));
  HM_RETURN_IF_ERROR(reader.Integer(*publish, "publish", "multipart_above_bytes",
                                    &limits.multipart_above_bytes, 5 << 20, INT64_MAX));
  if (publish->contains("quota_bytes")) {
    uint64_t bytes = 0;
    HM_RETURN_IF_ERROR(reader.Integer(*publish, "publish", "quota_bytes", &bytes, 1, INT64_MAX));
    limits.default_bytes = bytes;
  }
  if (const toml::node* node = publish->get("quotas")) {
    const toml::table* table = node->as_table();
    if (table == nullptr)
      return reader.Fail("publish.quotas", "must be a table of NAMESPACE = BYTES");
    for (const auto& [key, value] : *table) {
      std::string space(key.str());
      if (!ValidateAccountName(space).ok()) {
        return reader.Fail("publish.quotas", "'" + space + "' is not a user or organization name");
      }
      uint64_t bytes = 0;
      HM_RETURN_IF_ERROR(
          reader.Integer(*table, "publish.quotas", space.c_str(), &bytes, 1, INT64_MAX));
      limits.namespace_bytes[AsciiLower(space)] = bytes;
    }
  }
  return limits;
}

Result<DaemonConfig> LoadDaemonConfig(const std::filesystem::path& path) {
  DaemonConfig config;
  auto schedule = LoadConfig(path);
  if (!schedule.ok()) return schedule.status();
  config.schedule = std::move(schedule.value());
  auto access = LoadAccessPolicy(path);
  if (!access.ok()) return access.status();
  config.access = *access;
  auto pull_through = LoadPullThroughPolicy(path);
  if (!pull_through.ok()) return pull_through.status();
  config.pull_through = std::move(pull_through.value());
  auto upkeep = LoadMaintenanceConfig(path);
  if (!upkeep.ok()) return upkeep.status();
  config.upkeep = std::move(upkeep.value());
  auto publishing = LoadPublishLimits(path);
  if (!publishing.ok()) return publishing.status();
  config.publishing = std::move(publishing.value());
  auto storage = LoadStorageBackend(path);
  if (!storage.ok()) return storage.status();
  config.storage = std::move(storage.value());
  for (auto& rule : config.schedule.mirrors) rule.max_store_bytes = config.upkeep.max_store_bytes;
  return config;
}

}  // namespace hubmirror::cli
