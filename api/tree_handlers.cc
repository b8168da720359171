// Tree listing, paths-info, refs and commits: /api/{type}s/{repo}/{tree,paths-info,refs,commits}.
#include <algorithm>

#include "api/access.h"
#include "api/handler_support.h"
#include "common/clock.h"

namespace hubmirror::api {
namespace {

using nlohmann::json;

constexpr size_t kTreePage = 1000;        // entries per page without expand (as the Hub)
constexpr size_t kTreePageExpanded = 50;  // with expand=true
constexpr size_t kMaxPathsInfoPaths = 10000;
constexpr int64_t kDefaultCommitsPage = 50;
constexpr int64_t kMaxCommitsPage = 1000;

bool FlagParam(const QueryParams& query, const char* key) {
  auto value = QueryValue(query, key);
  return value && ParseBool(*value).value_or(false);
}

struct Resolved {
  registry::Repo repo;
  registry::Commit commit;
};

// The repo (if the caller may see it: a gated repo's tree, refs and history are metadata) and
// the commit a request names.
Result<Resolved> ResolveRepoAndRevision(const RequestContext& context) {
  RepoRight right = RepoRight::kNone;
  auto repo = FindVisibleRepo(context, context.route.type, context.route.repo, &right);
  if (!repo.ok()) return repo.status();
  auto commit = context.registry.ResolveRevision(*repo, context.route.revision);
  if (!commit.ok()) return commit.status();
  return Resolved{std::move(repo.value()), std::move(commit.value())};
}

json CommitJson(const registry::Commit& commit) {
  return {{"id", commit.id},
          {"title", commit.title},
          {"message", commit.message},
          {"authors", json::array({{{"user", commit.author}}})},
          {"date", FormatIsoMillis(commit.date_ms)}};
}

}  // namespace

json EntryJson(const registry::Entry& entry, bool expand) {
  json out = {{"type", entry.is_directory ? "directory" : "file"},
              {"oid", entry.git_oid},
              {"size", entry.is_directory ? 0 : entry.size},
              {"path", entry.path}};
  if (entry.lfs) {
    out["lfs"] = {{"oid", entry.sha256}, {"size", entry.size}, {"pointerSize", entry.pointer_size}};
  }
  if (expand) {
    out["lastCommit"] = {{"id", entry.last_commit_id},
                         {"title", entry.last_commit_title},
                         {"date", FormatIsoMillis(entry.last_commit_date_ms)}};
  }
  return out;
}

Response HandleTree(const RequestContext& context) {
  const Route& route = context.route;
  auto resolved = ResolveRepoAndRevision(context);
  if (!resolved.ok()) return ErrorFromStatus(resolved.status(), true);
  const auto& [repo, commit] = resolved.value();
  if (!route.path.empty()) {
    auto directory = context.registry.FindEntry(repo, commit.id, route.path);
    if (!directory.ok()) return ErrorFromStatus(directory.status(), true);
    if (!directory->has_value() || !(*directory)->is_directory) {
      return ErrorResponse(ApiError::kEntryNotFound,
                           "Entry not found: no directory '" + route.path + "' at " + commit.id,
                           true);
    }
  }
  bool recursive = FlagParam(route.query, "recursive");
  bool expand = FlagParam(route.query, "expand");
  auto cursor = IntegerParam(route.query, "cursor");
  if (!cursor.ok()) return ErrorFromStatus(cursor.status(), true);

  auto entries = context.registry.ListEntries(repo, commit.id, route.path);
  if (!entries.ok()) return ErrorFromStatus(entries.status(), true);
  size_t prefix_length = route.path.empty() ? 0 : route.path.size() + 1;
  if (!recursive) {
    std::erase_if(*entries, [&](const registry::Entry& e) {
      return e.path.find('/', prefix_length) != std::string::npos;
    });
    // Directories first, then files, each in path order (as the Hub lists them).
    std::stable_partition(entries->begin(), entries->end(),
                          [](const registry::Entry& e) { return e.is_directory; });
  }
  size_t page = expand ? kTreePageExpanded : kTreePage;
  size_t offset = static_cast<size_t>(cursor->value_or(0));
  json body = json::array();
  for (size_t i = offset; i < entries->size() && i < offset + page; ++i) {
    body.push_back(EntryJson((*entries)[i], expand));
  }
  Response response = JsonResponse(body);
  if (offset + page < entries->size()) {
    response.Set("Link", NextPageLink(context, {{"cursor", std::to_string(offset + page)}}));
  }
  return response;
}

Response HandlePathsInfo(const RequestContext& context) {
  std::vector<std::string> paths;
  bool expand = false;
  auto content_type = context.request.find(http::field::content_type);
  std::string type = AsciiLower(content_type == context.request.end() ? "" : content_type->value());
  if (type.starts_with("application/json")) {
    json body = json::parse(context.request.body(), nullptr, false);
    if (body.is_discarded() || !body.is_object() || !body.contains("paths") ||
        !body["paths"].is_array()) {
      return ErrorResponse(ApiError::kBadRequest,
                           "expected a JSON body {\"paths\": [...], \"expand\": bool}", true);
    }
    for (const auto& path : body["paths"]) {
      if (!path.is_string()) {
        return ErrorResponse(ApiError::kBadRequest, "every element of paths must be a string",
                             true);
      }
      paths.push_back(path.get<std::string>());
    }
    // Compared, not converted: an "expand" of another type is false, never an exception.
    auto flag = body.find("expand");
    expand = flag != body.end() && *flag == true;
  } else {
    auto form = ParseQuery(context.request.body());
    if (!form.ok()) return ErrorFromStatus(form.status(), true);
    paths = QueryValues(*form, "paths");
    expand = FlagParam(*form, "expand");
  }
  if (paths.size() > kMaxPathsInfoPaths) {
    return ErrorResponse(ApiError::kBadRequest, "at most 10000 paths per request", true);
  }
  auto resolved = ResolveRepoAndRevision(context);
  if (!resolved.ok()) return ErrorFromStatus(resolved.status(), true);
  json body = json::array();
  for (auto path : paths) {
    while (!path.empty() && path.back() == '/') path.pop_back();
    if (!ValidateRepoPath(path).ok()) continue;  // a path that cannot exist is simply absent
    auto entry = context.registry.FindEntry(resolved->repo, resolved->commit.id, path);
    if (!entry.ok()) return ErrorFromStatus(entry.status(), true);
    if (entry->has_value()) body.push_back(EntryJson(**entry, expand));
  }
  return JsonResponse(body);
}

Response HandleRefs(const RequestContext& context) {
  RepoRight right = RepoRight::kNone;
  auto repo = FindVisibleRepo(context, context.route.type, context.route.repo, &right);
  if (!repo.ok()) return ErrorFromStatus(repo.status(), true);
  auto refs = context.registry.ListRefs(*repo);
  if (!refs.ok()) return ErrorFromStatus(refs.status(), true);
  // The Hub's lists always hold branches, converts and tags (clients index all three), and pull
  // requests only when asked for; pull requests by number, the others by name.
  bool with_prs = FlagParam(context.route.query, "include_prs");
  auto order = [](const registry::Ref& ref) {
    // A pull request's number has no leading zero: shorter is smaller.
    size_t length = ref.kind == RefKind::kPullRequest ? ref.name.size() : 0;
    return std::make_tuple(ref.kind, length, std::string_view(ref.name));
  };
  std::sort(refs->begin(), refs->end(),
            [&](const registry::Ref& a, const registry::Ref& b) { return order(a) < order(b); });
  json body = {{"branches", json::array()}, {"converts", json::array()}, {"tags", json::array()}};
  if (with_prs) body["pullRequests"] = json::array();
  for (const auto& ref : *refs) {
    const char* list = ref.kind == RefKind::kBranch        ? "branches"
                       : ref.kind == RefKind::kTag         ? "tags"
                       : ref.kind == RefKind::kPullRequest ? "pullRequests"
                                                           : "converts";
    if (ref.kind == RefKind::kPullRequest && !with_prs) continue;
    body[list].push_back({{"name", ref.name},
                          {"ref", FullRefName(ref.ref_name())},
                          {"targetCommit", ref.commit_id}});
  }
  return JsonResponse(body);
}

Response HandleCommits(const RequestContext& context) {
  auto resolved = ResolveRepoAndRevision(context);
  if (!resolved.ok()) return ErrorFromStatus(resolved.status(), true);
  auto page = IntegerParam(context.route.query, "p");
  auto limit = IntegerParam(context.route.query, "limit");
  if (!page.ok()) return ErrorFromStatus(page.status(), true);
  if (!limit.ok()) return ErrorFromStatus(limit.status(), true);
  int64_t page_size = std::min(limit->value_or(kDefaultCommitsPage), kMaxCommitsPage);
  if (page_size <= 0) return ErrorResponse(ApiError::kBadRequest, "limit must be positive", true);
  int64_t page_number = page->value_or(0);
  int64_t total = 0;
  auto commits = context.registry.ListHistory(resolved->repo, resolved->commit.id,
                                              page_number * page_size, page_size, &total);
  if (!commits.ok()) return ErrorFromStatus(commits.status(), true);
  json body = json::array();
  for (const auto& commit : *commits) body.push_back(CommitJson(commit));
  Response response = JsonResponse(body);
  response.Set("X-Total-Count", std::to_string(total));
  if ((page_number + 1) * page_size < total) {
    response.Set("Link", NextPageLink(context, {{"p", std::to_string(page_number + 1)},
                                                {"limit", std::to_string(page_size)}}));
  }
  return response;
}

}  // namespace hubmirror::api
