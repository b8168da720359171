#pragma once

#include <filesystem>
#include <optional>

#include "api/access.h"
#include "api/publisher.h"
#include "cli/storage_config.h"
#include "common/status.h"
#include "sync/maintenance.h"
#include "sync/pull_through.h"
#include "sync/scheduler.h"

namespace hubmirror::cli {

// Reads the TOML config of `hubmirror serve --config FILE` (see deploy/hubmirror.example.toml):
//   [upstream] url, token_env        [schedule] interval_seconds
//   [sync] concurrency, retries, stall_timeout_seconds, limit_rate
//   [[mirror]] repo (an id, or ORG/GLOB), revision or revisions (names or patterns such as "*",
//              "tags/*", "refs/pr/*", "refs/convert/*"), type, include, exclude, access
//              (upstream, public, private, gated-auto, gated-manual), grant (users or orgs),
//              keep_revisions (retention: each branch's newest N), keep_within (retention:
//              revisions dated within a duration such as "90d")
//   [access] anonymous (read by LoadAccessPolicy)
//   [pull_through] enabled, allow, deny, max_age_seconds, gated, anonymous (read by
//              LoadPullThroughPolicy)
//   [publish] quota_bytes, [publish.quotas], multipart_above_bytes (read by LoadPublishLimits)
//   [gc] interval_seconds, grace_seconds, quarantine_seconds; [verify] interval_seconds,
//              max_bytes_per_second; [storage] max_bytes, check_interval_seconds (read by
//              LoadMaintenanceConfig)
// kInvalidArgument, naming the file, the key and the problem, for anything malformed or unknown
// (a misspelt key must not silently change what is mirrored); an unset token variable too.
// [upstream] may be left out of a file without [[mirror]] rules (LoadPullThroughPolicy asks for
// it when pull-through is on); [schedule] too.
Result<sync::ScheduleConfig> LoadConfig(const std::filesystem::path& path);

// The [access] table of the same file: `anonymous = "read"` (the default: requests without a
// token read public repos) or "none" (every request needs a valid token). kInvalidArgument, naming
// the file and key, for anything else.
Result<api::AccessPolicy> LoadAccessPolicy(const std::filesystem::path& path);

// The [pull_through] table of the same file: nullopt when it is absent or `enabled = false`.
// Patterns as PullThroughPolicy takes them; `anonymous = false` keeps requests without a token
// from fetching. kInvalidArgument, naming the file and key, for anything malformed or unknown, and
// when pull-through is enabled without an [upstream].
Result<std::optional<sync::PullThroughPolicy>> LoadPullThroughPolicy(
    const std::filesystem::path& path);

// The [gc], [verify] and [storage] tables of the same file: the daemon's upkeep (no interval or
// budget: the job does not run). kInvalidArgument, naming the file and key, for anything malformed
// or unknown.
Result<sync::MaintenanceConfig> LoadMaintenanceConfig(const std::filesystem::path& path);

// The [publish] table of the same file: `quota_bytes` for every namespace, `[publish.quotas]`
// NAMESPACE = BYTES for some, `multipart_above_bytes` (at least 5 MiB). kInvalidArgument, naming
// the file and key, for anything malformed.
Result<api::PublishLimits> LoadPublishLimits(const std::filesystem::path& path);

// Everything `serve --config FILE` reads, as one value: the loaders above, with the storage
// budget given to every rule (MirrorSpec::max_store_bytes). Their errors as they are.
struct DaemonConfig {
  sync::ScheduleConfig schedule;
  api::AccessPolicy access;
  std::optional<sync::PullThroughPolicy> pull_through;
  sync::MaintenanceConfig upkeep;
  api::PublishLimits publishing;
  StorageBackend storage;
};
Result<DaemonConfig> LoadDaemonConfig(const std::filesystem::path& path);

}  // namespace hubmirror::cli
