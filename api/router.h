#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "api/http_parsing.h"
#include "common/names.h"
#include "common/status.h"

namespace hubmirror::api {

inline constexpr size_t kMaxTargetBytes = 8192;

enum class Endpoint {
  kHealth,
  kReady,      // /readyz: the server can read its registry and write its data directory
  kMetrics,    // /metrics: Prometheus text format
  kResolve,    // /{prefix}{repo}/resolve/{rev}/{path}
  kRaw,        // /{prefix}{repo}/raw/{rev}/{path}
  kRepoInfo,   // /api/{type}s/{repo}[/revision/{rev}]
  kTree,       // /api/{type}s/{repo}/tree/{rev}[/{path}]
  kPathsInfo,  // /api/{type}s/{repo}/paths-info/{rev}
  kRefs,       // /api/{type}s/{repo}/refs
  kCommits,    // /api/{type}s/{repo}/commits/{rev}
  kListRepos,  // /api/{type}s
  kWhoami,     // /api/whoami-v2
  kTelemetry,  // /api/telemetry/...
  kAgentHarnesses,
  kMirrorStatus,       // /api/mirror/status (native)
  kLineage,            // /api/lineage/{type}s/{repo} (native)
  kIntegrityKey,       // /api/integrity/key (native): the manifest signing key
  kIntegrityManifest,  // /api/integrity/{type}s/{repo}/{rev} (native): a signed manifest
  kAskAccess,          // POST /{prefix}{repo}/ask-access: the gate form
  kAuthCheck,          // /api/{type}s/{repo}/auth-check[/write] (path: "" or "write")
  kAccessRequests,     // GET /api/{type}s/{repo}/user-access-request/{status} (path: the status)
  kAccessDecision,     // POST /api/{type}s/{repo}/user-access-request/{handle|grant} (path)
  kRepoSettings,       // PUT /api/{type}s/{repo}/settings
  // Administration of the instance (server admins only): account and item as noted.
  kAdminUsers,      // GET, POST /api/admin/users
  kAdminUser,       // DELETE /api/admin/users/{account}
  kAdminOrgs,       // GET, POST /api/admin/orgs
  kAdminOrgMember,  // PUT, DELETE /api/admin/orgs/{account}/members/{item: a user}
  kAdminTokens,     // GET, POST /api/admin/tokens
  kAdminToken,      // DELETE /api/admin/tokens/{account: a user}/{item: the token's name}
  kAdminAccess,     // POST, DELETE /api/admin/access
  kAdminAudit,      // GET /api/admin/audit
  kAdminJobs,       // GET, POST /api/admin/jobs
  kAdminJob,        // GET, DELETE /api/admin/jobs/{item: the job's id, decimal}
  kAdminConfig,     // GET /api/admin/config: the effective config
  kAdminReload,     // POST /api/admin/config/reload
  // Publishing (hub-protocol §12).
  kCreateRepo,     // POST /api/repos/create
  kDeleteRepo,     // DELETE /api/repos/delete
  kMoveRepo,       // POST /api/repos/move
  kValidateYaml,   // POST /api/validate-yaml
  kPreupload,      // POST /api/{type}s/{repo}/preupload/{rev}
  kCommit,         // POST /api/{type}s/{repo}/commit/{rev}
  kBranch,         // POST, DELETE /api/{type}s/{repo}/branch/{path: the name}
  kTag,            // POST (path: the revision tagged), DELETE (path: the tag) .../tag/{path}
  kXetWriteToken,  // GET /api/{type}s/{repo}/xet-write-token/{rev}: refused (no Xet here)
  kDiscussions,    // POST /api/{type}s/{repo}/discussions: refused (no pull requests here)
  kLfsBatch,       // POST /{prefix}{repo}.git/info/lfs/objects/batch
  kLfsUpload,      // PUT /api/lfs-upload/{item: the sha256}?size=&user=&expires=&sig=[&part=]
  kLfsComplete,    // POST /api/lfs-complete/{item: the sha256}?size=&user=&expires=&sig=
  kLfsVerify,      // POST /api/lfs-verify
  // The web UI (web/): `/` and `/-/{page}`, which no repo id can start with. `item` names the
  // page: list, repo, lineage, access (a gated repo's request form), status, integrity, signin,
  // signout, admin, asset (`path`: its file name), or hub-link (a Hub-style `/{org}/{name}` or
  // `/datasets/{org}/{name}` page address, answered with a redirect); `type` and `repo` the repo
  // the page shows.
  kPage,
};

// A request target matched to an endpoint, with every component decoded and validated.
struct Route {
  Endpoint endpoint = Endpoint::kHealth;
  RepoType type = RepoType::kModel;
  std::string repo;      // validated repo id
  std::string revision;  // decoded; "refs/pr/1" may arrive encoded or as three segments
  std::string path;  // validated repo path, or "" for the root (tree only); a sub-action for some
                     // endpoints, as noted above
  std::string account;  // admin routes: a validated user or organization name (ValidateAccountName)
  std::string item;     // admin routes: what of the account the path names after it
  QueryParams query;
};

// Matches the raw request target (path and query as sent). Routing works on raw segments and
// decodes each one separately, so an encoded slash can never split or join segments where it
// does not belong (hub-protocol §1.2). Returns kInvalidArgument for malformed or hostile targets
// (dot segments, control characters, bad escapes, over-long ids or paths) and kNotFound for
// well-formed targets that name no endpoint.
Result<Route> MatchRoute(std::string_view target);

}  // namespace hubmirror::api
