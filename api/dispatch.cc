#include "api/dispatch.h"

#include "api/web_pages.h"

namespace hubmirror::api {
namespace {

// The methods an endpoint accepts, as an Allow header value.
std::string_view AllowedMethods(Endpoint endpoint) {
  switch (endpoint) {
    case Endpoint::kPathsInfo:
    case Endpoint::kAskAccess:
    case Endpoint::kAccessDecision:
      return "POST, OPTIONS";
    case Endpoint::kRepoSettings:
      return "PUT, OPTIONS";
    case Endpoint::kCreateRepo:
    case Endpoint::kMoveRepo:
    case Endpoint::kValidateYaml:
    case Endpoint::kPreupload:
    case Endpoint::kCommit:
      return "POST, OPTIONS";
    case Endpoint::kDeleteRepo:
      return "DELETE, OPTIONS";
    case Endpoint::kLfsBatch:
    case Endpoint::kLfsComplete:
    case Endpoint::kLfsVerify:
    case Endpoint::kDiscussions:
      return "POST, OPTIONS";
    case Endpoint::kLfsUpload:
      return "PUT, OPTIONS";
    case Endpoint::kBranch:
    case Endpoint::kTag:
      return "POST, DELETE, OPTIONS";
    case Endpoint::kTelemetry:
    case Endpoint::kAdminJobs:
    case Endpoint::kAdminUsers:
    case Endpoint::kAdminOrgs:
    case Endpoint::kAdminTokens:
      return "GET, HEAD, POST, OPTIONS";
    case Endpoint::kAdminUser:
    case Endpoint::kAdminToken:
      return "DELETE, OPTIONS";
    case Endpoint::kAdminOrgMember:
      return "PUT, DELETE, OPTIONS";
    case Endpoint::kAdminAccess:
      return "POST, DELETE, OPTIONS";
    case Endpoint::kAdminJob:
      return "GET, HEAD, DELETE, OPTIONS";
    case Endpoint::kAdminReload:
      return "POST, OPTIONS";
    case Endpoint::kPage:
      return "GET, HEAD, POST, OPTIONS";
    default:
      return "GET, HEAD, OPTIONS";
  }
}

bool MethodAllowed(Endpoint endpoint, http::verb method) {
  std::string_view name = http::to_string(method);
  std::string_view allowed = AllowedMethods(endpoint);
  for (size_t start = 0; start < allowed.size();) {
    size_t comma = allowed.find(',', start);
    std::string_view candidate = allowed.substr(start, comma - start);
    if (candidate == name) return true;
    if (comma == std::string_view::npos) break;
    start = comma + 2;
  }
  return false;
}

// Endpoints that name a repo's revision, which pull-through fetches when the registry lacks it.
bool PulledEndpoint(Endpoint endpoint) {
  switch (endpoint) {
    case Endpoint::kResolve:
    case Endpoint::kRaw:
    case Endpoint::kRepoInfo:
    case Endpoint::kTree:
    case Endpoint::kPathsInfo:
    case Endpoint::kRefs:
    case Endpoint::kCommits:
      return true;
    default:
      return false;
  }
}

// The revision a request needs: the one it names, or the default branch (which the Hub's repos
// call main) for repo info without one and for the refs listing.
std::string RevisionNeeded(const Route& route) {
  return route.endpoint == Endpoint::kRefs || route.revision == "HEAD" ? "main" : route.revision;
}

// A "not found" that only says the registry lacks what the upstream could not be asked about
// becomes the reason it could not.
Response AfterFailedFetch(Response response, const Status& fetched, const PullThrough& pull,
                          bool api_route) {
  auto code = std::find_if(response.headers.begin(), response.headers.end(),
                           [](const auto& header) { return header.first == "X-Error-Code"; });
  bool not_found = code != response.headers.end() &&
                   (code->second == "RepoNotFound" || code->second == "RevisionNotFound");
  if (!not_found) return response;
  if (fetched.code() == StatusCode::kFailedPrecondition) {
    return ErrorResponse(ApiError::kGatedRepoForbidden, fetched.message(), api_route);
  }
  if (fetched.code() != StatusCode::kIoError) return response;
  return UpstreamErrorResponse(fetched, pull, api_route);
}

// The endpoint's handler, once the request may be answered.
Response Answer(const RequestContext& context, bool api_route);

// Dispatch, which also says which endpoint the request matched (for metrics).
Response DispatchRoute(const Request& request, const DispatchEnvironment& environment,
                       std::optional<Endpoint>* endpoint) {
  std::string_view target = request.target();
  bool api_route = target.substr(0, 5) == "/api/";
  if (request.method() == http::verb::options) {
    Response response;
    response.status = http::status::no_content;
    response.Set("Access-Control-Allow-Methods", "GET, HEAD, POST, PUT, DELETE, OPTIONS");
    response.Set("Access-Control-Allow-Headers",
                 "Authorization, Range, Content-Type, If-None-Match, Accept, User-Agent");
    response.Set("Access-Control-Max-Age", "86400");
    return response;
  }
  auto route = MatchRoute(target);
  if (!route.ok()) return ErrorFromStatus(route.status(), api_route);
  *endpoint = route->endpoint;
  if (!MethodAllowed(route->endpoint, request.method())) {
    Response response = ErrorResponse(
        ApiError::kMethodNotAllowed,
        "method " + std::string(request.method_string()) + " not allowed here", api_route);
    response.Set("Allow", std::string(AllowedMethods(route->endpoint)));
    return response;
  }
  switch (route->endpoint) {
    case Endpoint::kHealth:
      return JsonResponse({{"status", "ok"}});
    case Endpoint::kReady:
      return HandleReady(environment.registry, environment.data_dir);
    case Endpoint::kTelemetry:
      return JsonResponse(nlohmann::json::object());
    case Endpoint::kAgentHarnesses:
      return JsonResponse(
          {{"harnesses", nlohmann::json::object()}, {"standardEnvVars", nlohmann::json::array()}});
    default:
      break;
  }
  if (environment.registry == nullptr) {
    return ErrorResponse(ApiError::kInternal, "registry unavailable", api_route);
  }
  registry::Registry& registry = *environment.registry;
  static AccessServices no_access{AccessPolicy{}, nullptr};
  AccessServices& access = environment.access != nullptr ? *environment.access : no_access;
  bool has_token = request.find(http::field::authorization) != request.end();
  if (int64_t wait = access.bad_tokens().SecondsBlocked(environment.address); has_token && wait) {
    Response response = ErrorResponse(ApiError::kTooManyRequests,
                                      "too many invalid tokens, retry later", api_route);
    response.Set("Retry-After", std::to_string(wait));
    return response;
  }
  // Pages, and what they link to (downloads, manifests), also know a browser by its cookie.
  bool session_cookie =
      route->endpoint == Endpoint::kPage || route->endpoint == Endpoint::kResolve ||
      route->endpoint == Endpoint::kRaw || route->endpoint == Endpoint::kIntegrityManifest;
  auto caller = Authenticate(request, registry, environment.address, session_cookie);
  if (!caller.ok()) {
    if (caller.status().code() != StatusCode::kInvalidArgument) {
      return ErrorFromStatus(caller.status(), api_route);
    }
    access.bad_tokens().Count(environment.address);
    access.AuditRefusal({0, 0, "anonymous", "auth.invalid_token",
                         std::string(target.substr(0, 256)), "refused", environment.address, ""});
    return ErrorResponse(ApiError::kUnauthorized, caller.status().message(), api_route);
  }
  // A session cookie whose token is not valid counts as a bad token too (the page drops it).
  if (caller->session_expired) {
    access.bad_tokens().Count(environment.address);
    access.AuditRefusal({0, 0, "anonymous", "auth.invalid_session",
                         std::string(target.substr(0, 256)), "refused", environment.address, ""});
  }
  // LFS upload and completion URLs authorise themselves (the clients send no token with them);
  // pages show an anonymous caller the sign-in page instead.
  if (caller->anonymous() && !access.policy().anonymous_read &&
      route->endpoint != Endpoint::kLfsUpload && route->endpoint != Endpoint::kLfsComplete &&
      route->endpoint != Endpoint::kPage) {
    Response response = ErrorResponse(
        ApiError::kUnauthorized, "this server needs an access token for every request", api_route);
    response.Set("WWW-Authenticate", "Bearer realm=\"Authentication required\"");
    return response;
  }
  PullThrough* pull = environment.pull_through;
  bool pulled = pull != nullptr && PulledEndpoint(route->endpoint) &&
                (!caller->anonymous() || pull->AnonymousMayFetch()) &&
                pull->Covers(route->type, route->repo);
  if (pulled && environment.fetched == nullptr &&
      !pull->Fresh(route->type, route->repo, RevisionNeeded(*route))) {
    Response response;
    response.fetch_first = RevisionToFetch{route->type, route->repo, RevisionNeeded(*route)};
    return response;
  }
  RequestContext context{request,
                         *route,
                         registry,
                         environment.store,
                         environment.verify_below_bytes,
                         environment.signing_key,
                         environment.origin,
                         environment.verified_blobs,
                         *caller,
                         access,
                         pull,
                         pulled,
                         environment.jobs,
                         environment.publisher,
                         environment.pages};
  if (route->endpoint == Endpoint::kMetrics) return HandleMetrics(context, environment);
  Response response = Answer(context, api_route);
  if (pulled && environment.fetched != nullptr && !environment.fetched->ok()) {
    return AfterFailedFetch(std::move(response), *environment.fetched, *pull, api_route);
  }
  return response;
}

}  // namespace

Response Dispatch(const Request& request, const DispatchEnvironment& environment) {
  std::optional<Endpoint> endpoint;
  Response response = DispatchRoute(request, environment, &endpoint);
  response.endpoint = endpoint;
  return response;
}

namespace {

Response Answer(const RequestContext& context, bool api_route) {
  const Route* route = &context.route;
  registry::Registry& registry = context.registry;
  switch (route->endpoint) {
    case Endpoint::kWhoami:
      return HandleWhoami(context);
    case Endpoint::kAskAccess:
      return HandleAskAccess(context);
    case Endpoint::kAccessDecision:
      return HandleAccessDecision(context);
    case Endpoint::kRepoSettings:
      return HandleRepoSettings(context);
    case Endpoint::kAdminUsers:
      return HandleAdminUsers(context);
    case Endpoint::kAdminUser:
      return HandleAdminUser(context);
    case Endpoint::kAdminOrgs:
      return HandleAdminOrgs(context);
    case Endpoint::kAdminOrgMember:
      return HandleAdminOrgMember(context);
    case Endpoint::kAdminTokens:
      return HandleAdminTokens(context);
    case Endpoint::kAdminToken:
      return HandleAdminToken(context);
    case Endpoint::kAdminAccess:
      return HandleAdminAccess(context);
    case Endpoint::kAdminAudit:
      return HandleAdminAudit(context);
    case Endpoint::kAdminJobs:
      return HandleAdminJobs(context);
    case Endpoint::kAdminJob:
      return HandleAdminJob(context);
    case Endpoint::kAdminConfig:
      return HandleAdminConfig(context);
    case Endpoint::kAdminReload:
      return HandleAdminReload(context);
    case Endpoint::kCreateRepo:
      return HandleCreateRepo(context);
    case Endpoint::kDeleteRepo:
      return HandleDeleteRepo(context);
    case Endpoint::kMoveRepo:
      return HandleMoveRepo(context);
    case Endpoint::kValidateYaml:
      return HandleValidateYaml(context);
    case Endpoint::kPreupload:
      return HandlePreupload(context);
    case Endpoint::kCommit:
      return HandleCommit(context);
    case Endpoint::kBranch:
      return HandleBranch(context);
    case Endpoint::kTag:
      return HandleTag(context);
    case Endpoint::kXetWriteToken:
      return HandleXetWriteToken(context);
    case Endpoint::kDiscussions:
      return HandleDiscussions(context);
    case Endpoint::kLfsBatch:
      return HandleLfsBatch(context);
    case Endpoint::kLfsUpload:
      return HandleLfsUpload(context);
    case Endpoint::kLfsComplete:
      return HandleLfsComplete(context);
    case Endpoint::kLfsVerify:
      return HandleLfsVerify(context);
    default:
      break;
  }
  // A file download is one statement, its own transaction; everything else runs several
  // queries, which must all see the same committed state.
  if (route->endpoint == Endpoint::kResolve || route->endpoint == Endpoint::kRaw) {
    return HandleResolve(context, route->endpoint == Endpoint::kRaw);
  }
  registry::ReadSnapshot snapshot(registry);
  if (!snapshot.status().ok()) return ErrorFromStatus(snapshot.status(), api_route);
  switch (route->endpoint) {
    case Endpoint::kRepoInfo:
      return HandleRepoInfo(context);
    case Endpoint::kListRepos:
      return HandleListRepos(context);
    case Endpoint::kTree:
      return HandleTree(context);
    case Endpoint::kPathsInfo:
      return HandlePathsInfo(context);
    case Endpoint::kRefs:
      return HandleRefs(context);
    case Endpoint::kCommits:
      return HandleCommits(context);
    case Endpoint::kMirrorStatus:
      return HandleMirrorStatus(context);
    case Endpoint::kLineage:
      return HandleLineage(context);
    case Endpoint::kIntegrityKey:
      return HandleIntegrityKey(context);
    case Endpoint::kIntegrityManifest:
      return HandleIntegrityManifest(context);
    case Endpoint::kAuthCheck:
      return HandleAuthCheck(context);
    case Endpoint::kAccessRequests:
      return HandleAccessRequests(context);
    case Endpoint::kPage:
      if (context.pages == nullptr) {
        return ErrorResponse(ApiError::kRouteNotFound, "no such endpoint", api_route);
      }
      return context.pages->Answer(context);
    default:
      return ErrorResponse(ApiError::kRouteNotFound, "no such endpoint", api_route);
  }
}

}  // namespace

}  // namespace hubmirror::api
