#include "cli/effective_config.h"

namespace hubmirror::cli {
namespace {

using nlohmann::json;

json OptionalSeconds(const std::optional<std::chrono::seconds>& value) {
  return value ? json(value->count()) : json();
}

std::string AccessRuleName(const registry::RepoAccessSettings& access) {
  if (!access.is_private) return "upstream";
  if (*access.is_private) return "private";
  if (access.gated && *access.gated != "false") return "gated-" + *access.gated;
  return "public";
}

json RuleJson(const sync::MirrorSpec& rule, size_t number) {
  const sync::LineageRules& lineage = rule.lineage;
  return {{"rule", number},
          {"type", RepoTypeName(rule.type)},
          {"repo", rule.repo},
          {"revision", rule.revision},
          {"include", rule.include},
          {"exclude", rule.exclude},
          {"access", AccessRuleName(rule.access)},
          {"grant", rule.grants},
          {"writable", rule.writable.value_or(false)},
          {"keep_revisions", rule.retention.revisions ? json(*rule.retention.revisions) : json()},
          {"keep_within_seconds",
           rule.retention.within_seconds ? json(*rule.retention.within_seconds) : json()},
          {"ancestors", lineage.ancestors},
          {"descendants", lineage.descendant_relations},
          {"min_downloads", lineage.min_downloads},
          {"max_count", lineage.max_count},
          {"lineage_metadata_only", lineage.metadata_only},
          {"concurrency", rule.concurrency}};
}

}  // namespace

json EffectiveConfigJson(const std::filesystem::path& config_file, const DaemonConfig& config) {
  const sync::ScheduleConfig& schedule = config.schedule;
  const sync::UpstreamOptions& upstream = schedule.upstream;
  json rules = json::array();
  for (size_t i = 0; i < schedule.mirrors.size(); ++i) {
    rules.push_back(RuleJson(schedule.mirrors[i],
                             i < schedule.rule_numbers.size() ? schedule.rule_numbers[i] : 0));
  }
  json pull_through = {{"enabled", config.pull_through.has_value()}};
  if (const auto& policy = config.pull_through) {
    pull_through.update({{"allow", policy->allow},
                         {"deny", policy->deny},
                         {"max_age_seconds", policy->max_age.count()},
                         {"gated", policy->gated},
                         {"anonymous", policy->anonymous}});
  }
  const sync::MaintenanceConfig& upkeep = config.upkeep;
  return {
      {"config_file", config_file.empty() ? json() : json(config_file.string())},
      {"upstream",
       {{"url", upstream.base_url.empty() ? json() : json(upstream.base_url)},
        {"token", upstream.token.empty() ? json() : json("(set; not shown)")},
        {"token_env", schedule.token_env.empty() ? json() : json(schedule.token_env)}}},
      {"schedule", {{"interval_seconds", schedule.interval.count()}}},
      {"sync",
       {{"retries", upstream.max_attempts - 1},
        {"stall_timeout_seconds", upstream.stall_timeout_seconds},
        {"limit_rate", upstream.max_bytes_per_second}}},
      {"mirror", std::move(rules)},
      {"access", {{"anonymous", config.access.anonymous_read ? "read" : "none"}}},
      {"pull_through", std::move(pull_through)},
      {"gc",
       {{"interval_seconds", OptionalSeconds(upkeep.gc_interval)},
        {"grace_seconds", upkeep.gc.grace.count()},
        {"quarantine_seconds", upkeep.gc.quarantine_age.count()}}},
      {"verify",
       {{"interval_seconds", OptionalSeconds(upkeep.verify_interval)},
        {"max_bytes_per_second", upkeep.verify_max_bytes_per_second}}},
      {"storage",
       {{"max_bytes", upkeep.max_store_bytes ? json(*upkeep.max_store_bytes) : json()},
        {"check_interval_seconds", upkeep.budget_interval.count()}}},
      // Which blob store serves, from [storage]; never a credential, only where it comes from.
      {"blob_store",
       {{"backend", config.storage.s3 ? "s3" : "local"},
        {"s3_endpoint", config.storage.location.endpoint},
        {"s3_bucket", config.storage.location.bucket},
        {"s3_region", config.storage.location.region},
        {"s3_addressing", config.storage.location.virtual_host ? "virtual" : "path"},
        {"s3_prefix", config.storage.location.prefix},
        {"credentials", config.storage.credentials_file.empty()
                            ? "environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)"
                            : "file " + config.storage.credentials_file},
        {"serve", config.storage.redirect ? "redirect" : "stream"}}},
      {"publish",
       {{"quota_bytes",
         config.publishing.default_bytes ? json(*config.publishing.default_bytes) : json()},
        {"quotas", config.publishing.namespace_bytes},
        {"multipart_above_bytes", config.publishing.multipart_above_bytes}}},
  };
}

}  // namespace hubmirror::cli
