#include "api/router.h"

#include <array>
#include <utility>

#include "common/digest.h"

namespace hubmirror::api {
namespace {

constexpr std::array<std::string_view, 18> kRepoActions = {"resolve",
                                                           "raw",
                                                           "tree",
                                                           "blob",
                                                           "revision",
                                                           "refs",
                                                           "commits",
                                                           "paths-info",
                                                           "ask-access",
                                                           "auth-check",
                                                           "user-access-request",
                                                           "settings",
                                                           "preupload",
                                                           "commit",
                                                           "branch",
                                                           "tag",
                                                           "xet-write-token",
                                                           "discussions"};

bool IsRepoAction(std::string_view segment) {
  for (auto action : kRepoActions) {
    if (segment == action) return true;
  }
  return false;
}

Status NoRoute() { return Status(StatusCode::kNotFound, "no such endpoint"); }

// Decoded path segments; the raw ones are checked for dot segments before decoding and the
// decoded ones after, so neither "/../" nor "/%2e%2e/" gets through.
Result<std::vector<std::string>> DecodeSegments(std::string_view path) {
  std::vector<std::string> segments;
  if (path.empty() || path.front() != '/') return InvalidArgument("target must start with '/'");
  path.remove_prefix(1);
  while (true) {
    size_t slash = path.find('/');
    std::string_view raw = path.substr(0, slash);
    auto decoded = PercentDecode(raw);
    if (!decoded.ok()) return decoded.status();
    if (*decoded == "." || *decoded == "..") return InvalidArgument("dot segment in URL");
    segments.push_back(std::move(decoded.value()));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return segments;
}

// Joins segments [from, end) as a repo path and validates it (an encoded "%2F" inside a segment
// is a legitimate separator for tree paths, so validation happens on the joined result).
Result<std::string> JoinPath(const std::vector<std::string>& segments, size_t from,
                             bool allow_empty) {
  std::string path;
  for (size_t i = from; i < segments.size(); ++i) {
    if (i > from) path += '/';
    path += segments[i];
  }
  if (path.empty() || (allow_empty && path == "/")) {
    if (allow_empty) return std::string();
    return InvalidArgument("missing file path");
  }
  if (allow_empty && path.back() == '/') path.pop_back();
  HM_RETURN_IF_ERROR(ValidateRepoPath(path));
  return path;
}

// Reads a revision starting at segments[*index], advancing past it. `refs/pr/N` and
// `refs/convert/W` may arrive as three literal segments (hub-protocol §1.2).
Result<std::string> TakeRevision(const std::vector<std::string>& segments, size_t* index) {
  if (*index >= segments.size() || segments[*index].empty()) {
    return InvalidArgument("missing revision");
  }
  std::string revision = segments[*index];
  if (revision == "refs" && *index + 2 < segments.size() &&
      (segments[*index + 1] == "pr" || segments[*index + 1] == "convert")) {
    revision += "/" + segments[*index + 1] + "/" + segments[*index + 2];
    *index += 2;
  }
  ++*index;
  if (revision.size() > kMaxRevisionBytes) return InvalidArgument("revision too long");
  return revision;
}

// How a repo id followed by an action keyword is read: "gpt2/refs" may be the refs of the legacy
// id "gpt2" or the repo "gpt2/refs". Targets are matched as legacy ids first, and as two-segment
// ids when that names no endpoint.
enum class ActionAfterId { kLegacyId, kSecondSegment };

// Reads a repo id starting at segments[*index]: one segment when it is the last or when the next
// one is an action keyword read as such (legacy ids such as "gpt2"), otherwise two.
Result<std::string> TakeRepoId(const std::vector<std::string>& segments, size_t* index,
                               ActionAfterId reading) {
  if (*index >= segments.size()) return NoRoute();
  std::string id = segments[*index];
  bool single = *index + 1 >= segments.size() ||
                (reading == ActionAfterId::kLegacyId && IsRepoAction(segments[*index + 1]));
  for (size_t i = *index; i < *index + (single ? 1 : 2); ++i) {
    if (segments[i].find('/') != std::string::npos) {
      return InvalidArgument("encoded '/' in a repo id");
    }
  }
  if (!single) {
    id += "/" + segments[*index + 1];
    ++*index;
  }
  ++*index;
  HM_RETURN_IF_ERROR(ValidateRepoId(id));
  return id;
}

bool ParseTypeSegment(std::string_view segment, RepoType* type) {
  if (segment == "models") {
    *type = RepoType::kModel;
  } else if (segment == "datasets") {
    *type = RepoType::kDataset;
  } else {
    return false;
  }
  return true;
}

// /api/admin/...: s[2] names the collection, the segments after it one of its items.
Result<Route> MatchAdmin(const std::vector<std::string>& s, Route route) {
  size_t n = s.size();
  const std::string& collection = s[2];
  if (n == 3) {
    static constexpr std::pair<std::string_view, Endpoint> kCollections[] = {
        {"users", Endpoint::kAdminUsers},   {"orgs", Endpoint::kAdminOrgs},
        {"tokens", Endpoint::kAdminTokens}, {"access", Endpoint::kAdminAccess},
        {"audit", Endpoint::kAdminAudit},   {"jobs", Endpoint::kAdminJobs},
        {"config", Endpoint::kAdminConfig}};
    for (const auto& [name, endpoint] : kCollections) {
      if (collection == name) {
        route.endpoint = endpoint;
        return route;
      }
    }
    return NoRoute();
  }
  if (collection == "jobs" && n == 4) {
    if (s[3].empty() || s[3].size() > 19 ||
        s[3].find_first_not_of("0123456789") != std::string::npos) {
      return NoRoute();
    }
    route.endpoint = Endpoint::kAdminJob;
    route.item = s[3];
    return route;
  }
  if (collection == "config" && n == 4 && s[3] == "reload") {
    route.endpoint = Endpoint::kAdminReload;
    return route;
  }
  bool user = collection == "users" && n == 4;
  bool member = collection == "orgs" && n == 6 && s[4] == "members";
  bool token = collection == "tokens" && n == 5;
  if (!user && !member && !token) return NoRoute();
  HM_RETURN_IF_ERROR(ValidateAccountName(s[3]));
  route.account = s[3];
  if (member) {
    HM_RETURN_IF_ERROR(ValidateAccountName(s[5]));
    route.item = s[5];
  } else if (token) {
    if (s[4].empty()) return InvalidArgument("missing token name");
    route.item = s[4];
  }
  route.endpoint = user     ? Endpoint::kAdminUser
                   : member ? Endpoint::kAdminOrgMember
                            : Endpoint::kAdminToken;
  return route;
}

Result<Route> MatchApi(const std::vector<std::string>& s, Route route, ActionAfterId reading) {
  if (s.size() == 2 && s[1] == "whoami-v2") {
    route.endpoint = Endpoint::kWhoami;
    return route;
  }
  if (s.size() >= 2 && s[1] == "telemetry") {
    route.endpoint = Endpoint::kTelemetry;
    return route;
  }
  if (s.size() == 3 && s[1] == "mirror" && s[2] == "status") {
    route.endpoint = Endpoint::kMirrorStatus;
    return route;
  }
  if (s.size() >= 3 && s[1] == "lineage") {
    if (!ParseTypeSegment(s[2], &route.type)) return NoRoute();
    size_t i = 3;
    auto repo = TakeRepoId(s, &i, reading);
    if (!repo.ok()) return repo.status();
    if (i != s.size()) return NoRoute();
    route.endpoint = Endpoint::kLineage;
    route.repo = std::move(repo.value());
    return route;
  }
  if (s.size() == 3 && s[1] == "integrity" && s[2] == "key") {
    route.endpoint = Endpoint::kIntegrityKey;
    return route;
  }
  if (s.size() >= 3 && s[1] == "integrity") {
    if (!ParseTypeSegment(s[2], &route.type)) return NoRoute();
    size_t i = 3;
    auto repo = TakeRepoId(s, &i, reading);
    if (!repo.ok()) return repo.status();
    auto revision = TakeRevision(s, &i);
    if (!revision.ok()) return revision.status();
    if (i != s.size()) return NoRoute();
    route.endpoint = Endpoint::kIntegrityManifest;
    route.repo = std::move(repo.value());
    route.revision = std::move(revision.value());
    return route;
  }
  if (s.size() >= 3 && s[1] == "admin") return MatchAdmin(s, std::move(route));
  if (s.size() == 3 && s[1] == "repos" &&
      (s[2] == "create" || s[2] == "delete" || s[2] == "move")) {
    route.endpoint = s[2] == "create"   ? Endpoint::kCreateRepo
                     : s[2] == "delete" ? Endpoint::kDeleteRepo
                                        : Endpoint::kMoveRepo;
    return route;
  }
  if (s.size() == 3 && (s[1] == "lfs-upload" || s[1] == "lfs-complete")) {
    if (!IsSha256Hex(s[2])) return NoRoute();
    route.endpoint = s[1] == "lfs-upload" ? Endpoint::kLfsUpload : Endpoint::kLfsComplete;
    route.item = s[2];
    return route;
  }
  if (s.size() == 2 && s[1] == "lfs-verify") {
    route.endpoint = Endpoint::kLfsVerify;
    return route;
  }
  if (s.size() == 2 && s[1] == "validate-yaml") {
    route.endpoint = Endpoint::kValidateYaml;
    return route;
  }
  if (s.size() == 2 && s[1] == "agent-harnesses") {
    route.endpoint = Endpoint::kAgentHarnesses;
    return route;
  }
  if (s.size() < 2 || !ParseTypeSegment(s[1], &route.type)) return NoRoute();
  if (s.size() == 2 || (s.size() == 3 && s[2].empty())) {
    route.endpoint = Endpoint::kListRepos;
    return route;
  }
  size_t i = 2;
  auto repo = TakeRepoId(s, &i, reading);
  if (!repo.ok()) return repo.status();
  route.repo = std::move(repo.value());
  if (i == s.size()) {
    route.endpoint = Endpoint::kRepoInfo;
    route.revision = "HEAD";
    return route;
  }
  const std::string& action = s[i++];
  if (action == "refs" && i == s.size()) {
    route.endpoint = Endpoint::kRefs;
    return route;
  }
  if (action == "discussions" && i == s.size()) {
    route.endpoint = Endpoint::kDiscussions;
    return route;
  }
  if (action == "settings" && i == s.size()) {
    route.endpoint = Endpoint::kRepoSettings;
    return route;
  }
  if (action == "auth-check" && (i == s.size() || (i + 1 == s.size() && s[i] == "write"))) {
    route.endpoint = Endpoint::kAuthCheck;
    route.path = i == s.size() ? "" : "write";
    return route;
  }
  if (action == "user-access-request" && i + 1 == s.size()) {
    const std::string& what = s[i];
    if (what == "pending" || what == "accepted" || what == "rejected") {
      route.endpoint = Endpoint::kAccessRequests;
    } else if (what == "handle" || what == "grant") {
      route.endpoint = Endpoint::kAccessDecision;
    } else {
      return NoRoute();
    }
    route.path = what;
    return route;
  }
  if ((action == "branch" || action == "tag") && i + 1 == s.size()) {
    // The name as sent, one segment (refs/... names are not branches or tags to create).
    route.endpoint = action == "branch" ? Endpoint::kBranch : Endpoint::kTag;
    route.path = s[i];
    return route;
  }
  if (action != "revision" && action != "tree" && action != "paths-info" && action != "commits" &&
      action != "preupload" && action != "commit" && action != "xet-write-token") {
    return NoRoute();
  }
  auto revision = TakeRevision(s, &i);
  if (!revision.ok()) return revision.status();
  route.revision = std::move(revision.value());
  if (action == "tree") {
    route.endpoint = Endpoint::kTree;
    auto path = JoinPath(s, i, /*allow_empty=*/true);
    if (!path.ok()) return path.status();
    route.path = std::move(path.value());
    return route;
  }
  if (i != s.size()) return NoRoute();
  route.endpoint = action == "revision"          ? Endpoint::kRepoInfo
                   : action == "paths-info"      ? Endpoint::kPathsInfo
                   : action == "preupload"       ? Endpoint::kPreupload
                   : action == "commit"          ? Endpoint::kCommit
                   : action == "xet-write-token" ? Endpoint::kXetWriteToken
                                                 : Endpoint::kCommits;
  return route;
}

// The web UI's pages: s[0] is "-" (or the target is "/"), the segments after it name the page.
Result<Route> MatchPage(const std::vector<std::string>& s, Route route, ActionAfterId reading) {
  route.endpoint = Endpoint::kPage;
  size_t n = s.size();
  if (n == 1 || (n == 2 && s[1].empty())) {
    route.item = "list";
    return route;
  }
  const std::string& page = s[1];
  for (std::string_view single : {"status", "integrity", "signin", "signout", "admin"}) {
    if (n == 2 && page == single) {
      route.item = page;
      return route;
    }
  }
  if (n == 3 && page == "assets" && !s[2].empty() &&
      s[2].find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-.") == std::string::npos) {
    route.item = "asset";
    route.path = s[2];
    return route;
  }
  size_t i = 2;
  if (page == "access") {
    if (n < 3 || !ParseTypeSegment(s[2], &route.type)) return NoRoute();
    i = 3;
  } else if (page == "models" || page == "datasets") {
    ParseTypeSegment(page, &route.type);
    if (n == 2) {
      route.item = "list";
      return route;
    }
  } else if (page != "lineage") {
    return NoRoute();
  }
  auto repo = TakeRepoId(s, &i, reading);
  if (!repo.ok()) return repo.status();
  if (i != n) return NoRoute();
  route.item = page == "models" || page == "datasets" ? "repo" : page;
  route.repo = std::move(repo.value());
  return route;
}

// Matches decoded segments, reading ids before action keywords as `reading` says.
Result<Route> MatchSegments(const std::vector<std::string>& s, Route route, ActionAfterId reading) {
  if (s.size() == 1 && (s[0] == "healthz" || s[0] == "readyz" || s[0] == "metrics")) {
    route.endpoint = s[0] == "healthz"  ? Endpoint::kHealth
                     : s[0] == "readyz" ? Endpoint::kReady
                                        : Endpoint::kMetrics;
    return route;
  }
  if (!s.empty() && s[0] == "api") return MatchApi(s, std::move(route), reading);
  if (s.size() == 1 && s[0].empty()) return MatchPage(s, std::move(route), reading);
  if (!s.empty() && s[0] == "-") return MatchPage(s, std::move(route), reading);

  size_t i = 0;
  if (!s.empty() && s[0] == "datasets") {
    route.type = RepoType::kDataset;
    i = 1;
  }
  if (!s.empty() && s.back() == "ask-access" && s.size() - i >= 2 && s.size() - i <= 3) {
    auto repo = TakeRepoId(s, &i, reading);
    if (!repo.ok()) return repo.status();
    if (i + 1 != s.size()) return NoRoute();
    route.endpoint = Endpoint::kAskAccess;
    route.repo = std::move(repo.value());
    return route;
  }
  // git-lfs's batch API: {prefix}{repo}.git/info/lfs/objects/batch, the id's last part with ".git".
  constexpr std::string_view kGit = ".git";
  if (s.size() >= i + 5 && s.size() <= i + 6 && s[s.size() - 4] == "info" &&
      s[s.size() - 3] == "lfs" && s[s.size() - 2] == "objects" && s.back() == "batch" &&
      s[s.size() - 5].ends_with(kGit) && s[s.size() - 5].size() > kGit.size()) {
    std::string id = s.size() == i + 6 ? s[i] + "/" : "";
    id += s[s.size() - 5].substr(0, s[s.size() - 5].size() - kGit.size());
    HM_RETURN_IF_ERROR(ValidateRepoId(id));
    route.endpoint = Endpoint::kLfsBatch;
    route.repo = std::move(id);
    return route;
  }
  if (s.size() == i + 2 && !s[i].empty() && !s[i + 1].empty()) {
    // A repo's page on the Hub (https://huggingface.co/{org}/{name}): the page here.
    auto repo = TakeRepoId(s, &i, ActionAfterId::kSecondSegment);
    if (!repo.ok()) return repo.status();
    route.endpoint = Endpoint::kPage;
    route.item = "hub-link";
    route.repo = std::move(repo.value());
    return route;
  }
  if (i + 2 >= s.size()) return NoRoute();
  auto repo = TakeRepoId(s, &i, reading);
  if (!repo.ok()) return repo.status();
  route.repo = std::move(repo.value());
  if (i >= s.size() || (s[i] != "resolve" && s[i] != "raw")) return NoRoute();
  route.endpoint = s[i] == "resolve" ? Endpoint::kResolve : Endpoint::kRaw;
  ++i;
  auto revision = TakeRevision(s, &i);
  if (!revision.ok()) return revision.status();
  route.revision = std::move(revision.value());
  auto path = JoinPath(s, i, /*allow_empty=*/false);
  if (!path.ok()) return path.status();
  route.path = std::move(path.value());
  return route;
}

}  // namespace

Result<Route> MatchRoute(std::string_view target) {
  if (target.size() > kMaxTargetBytes) return InvalidArgument("request target too long");
  size_t question = target.find('?');
  Route route;
  if (question != std::string_view::npos) {
    auto query = ParseQuery(target.substr(question + 1));
    if (!query.ok()) return query.status();
    route.query = std::move(query.value());
  }
  auto decoded = DecodeSegments(target.substr(0, question));
  if (!decoded.ok()) return decoded.status();
  auto legacy = MatchSegments(*decoded, route, ActionAfterId::kLegacyId);
  if (legacy.ok()) return legacy;
  // "acme/refs/resolve/main/x": not the legacy id "acme", but the repo "acme/refs".
  auto namespaced = MatchSegments(*decoded, std::move(route), ActionAfterId::kSecondSegment);
  return namespaced.ok() ? namespaced : legacy;
}

}  // namespace hubmirror::api
