#include "api/access.h"

#include <openssl/crypto.h>

#include <set>

#include "api/admin_actions.h"
#include "common/clock.h"
#include "common/json_text.h"
#include "common/log.h"
#include "common/tokens.h"

namespace hubmirror::api {
namespace {

// The Hub's answer to a token it does not accept (hub-protocol.md §4.2).
constexpr const char* kInvalidCredentials = "Invalid credentials in Authorization header";

// Whether the caller is the user a repo's namespace names (the id's first part: the upstream's
// `author` may say otherwise).
bool IsNamespaceUser(const Caller& caller, const registry::Repo& repo) {
  std::string_view space = RepoNamespace(repo.name);
  return caller.principal && !space.empty() &&
         EqualsIgnoringCase(caller.principal->user.name, space);
}

// Whether the repo belongs to the caller: their own namespace, or an organization they are a
// member of (any role).
bool OwnsNamespace(const Caller& caller, const registry::Repo& repo) {
  std::string_view space = RepoNamespace(repo.name);
  return IsNamespaceUser(caller, repo) || (!space.empty() && caller.RoleIn(std::string(space)));
}

// The last token a thread checked and whom it identified, kept while the registry's change count
// stays, for at most a second, and only until the token expires (a revocation moves the count).
// One per thread.
struct LastToken {
  const registry::Registry* registry = nullptr;
  std::string header;
  std::shared_ptr<const registry::Principal> principal;
  uint64_t changes = 0;
  int64_t checked_at_ms = 0;

  bool Matches(const registry::Registry& current, std::string_view value, int64_t now_ms) const {
    if (principal == nullptr || registry != &current || changes == 0 ||
        current.ChangeCount() != changes || now_ms - checked_at_ms >= 1000 ||
        now_ms < checked_at_ms || value.size() != header.size()) {
      return false;
    }
    const registry::TokenInfo& token = principal->token;
    if (token.expires_at_ms != 0 && now_ms >= token.expires_at_ms) return false;
    return CRYPTO_memcmp(value.data(), header.data(), header.size()) == 0;
  }

  void Remember(const registry::Registry& current, std::string_view value,
                std::shared_ptr<const registry::Principal> who, uint64_t count, int64_t now_ms) {
    registry = &current;
    header.assign(value);
    principal = std::move(who);
    changes = count;
    checked_at_ms = now_ms;
  }
};

}  // namespace

void AccessServices::Audit(registry::AuditEvent event) {
  if (event.at_ms == 0) event.at_ms = NowUnixMillis();
  nlohmann::json line = {{"audit", event.action},    {"actor", event.actor},
                         {"target", event.target},   {"outcome", event.outcome},
                         {"address", event.address}, {"at", FormatIsoMillis(event.at_ms)}};
  if (!event.detail.empty()) {
    nlohmann::json detail = nlohmann::json::parse(event.detail, nullptr, false);
    if (!detail.is_discarded()) line["detail"] = std::move(detail);
  }
  Log(LogLevel::kInfo, CompactJson(line));
  if (writer_ == nullptr) return;
  Status recorded =
      writer_->With([&](registry::Registry& registry) { return registry.RecordAudit(event); });
  if (!recorded.ok()) Log(LogLevel::kError, "cannot record audit event: " + recorded.message());
}

void AccessServices::AuditRefusal(registry::AuditEvent event) {
  if (refusals_.Count(event.address)) Audit(std::move(event));
}

Result<nlohmann::json> JsonObjectBody(const RequestContext& context) {
  nlohmann::json body = nlohmann::json::parse(context.request.body(), nullptr, false);
  if (!body.is_object()) return InvalidArgument("the body must be a JSON object");
  return body;
}

registry::AuditEvent CallerEvent(const RequestContext& context, std::string action,
                                 std::string target, std::string outcome, nlohmann::json detail) {
  return AuditRecord({std::move(action), std::move(target), std::move(detail)},
                     context.caller.name(), context.caller.address, std::move(outcome));
}

const std::string& Caller::name() const {
  static const std::string kAnonymous = "anonymous";
  return principal ? principal->user.name : kAnonymous;
}

registry::Viewer Caller::viewer() const {
  registry::Viewer viewer;
  if (!principal) return viewer;
  viewer.is_admin = principal->user.is_admin;
  viewer.user_id = principal->user.id;
  viewer.user_name = principal->user.name;
  for (const auto& [org, role] : principal->orgs) viewer.orgs.push_back(org);
  return viewer;
}

std::optional<registry::OrgRole> Caller::RoleIn(const std::string& org) const {
  if (!principal) return std::nullopt;
  for (const auto& [name, role] : principal->orgs) {
    if (EqualsIgnoringCase(name, org)) return role;
  }
  return std::nullopt;
}

std::optional<std::string> SessionCookieToken(const Request& request) {
  auto [first, last] = request.equal_range(http::field::cookie);
  for (auto field = first; field != last; ++field) {
    std::string_view cookies = field->value();
    while (!cookies.empty()) {
      size_t end = cookies.find(';');
      std::string_view pair = cookies.substr(0, end);
      while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
      if (pair.starts_with(kSessionCookie) && pair.substr(kSessionCookie.size()).starts_with('=')) {
        return std::string(pair.substr(kSessionCookie.size() + 1));
      }
      if (end == std::string_view::npos) break;
      cookies.remove_prefix(end + 1);
    }
  }
  return std::nullopt;
}

Result<Caller> Authenticate(const Request& request, registry::Registry& registry,
                            std::string address, bool session_cookie) {
  Caller caller;
  caller.address = std::move(address);
  auto header = request.find(http::field::authorization);
  std::optional<std::string> token;
  std::string presented;  // what the request held, for the thread's last token
  if (header != request.end()) {
    presented = header->value();
    token = TokenFromAuthorization(header->value());
  } else if (session_cookie) {
    token = SessionCookieToken(request);
    if (!token) return caller;
    presented = "Cookie " + *token;
  } else {
    return caller;
  }
  // A page keeps working for a browser whose session ended: it is anonymous again.
  auto refuse = [&]() -> Result<Caller> {
    if (header != request.end()) return InvalidArgument(kInvalidCredentials);
    caller.session_expired = true;
    return caller;
  };
  if (!token || !LooksLikeTokenSecret(*token)) return refuse();
  int64_t now_ms = NowUnixMillis();
  thread_local LastToken last;
  if (last.Matches(registry, presented, now_ms)) {
    caller.principal = last.principal;
    return caller;
  }
  uint64_t changes = registry.ChangeCount();
  auto principal = registry.FindPrincipal(TokenSecretHash(*token), now_ms);
  if (!principal.ok()) return principal.status();
  if (!principal->has_value()) return refuse();
  caller.principal = std::make_shared<const registry::Principal>(std::move(**principal));
  last.Remember(registry, presented, caller.principal, changes, now_ms);
  return caller;
}

Result<RepoRight> ReadRight(const Caller& caller, registry::Registry& registry,
                            const registry::Repo& repo) {
  bool gated = repo.gated != "false";
  if (!repo.is_private && !gated) return RepoRight::kContent;
  if (caller.principal) {
    const registry::User& user = caller.principal->user;
    if (user.is_admin || OwnsNamespace(caller, repo)) return RepoRight::kContent;
    auto granted = registry.HasAccess(repo, user.id);
    if (!granted.ok()) return granted.status();
    if (*granted) return RepoRight::kContent;
  }
  return repo.is_private ? RepoRight::kNone : RepoRight::kMetadata;
}

bool MayWriteNamespace(const Caller& caller, std::string_view space) {
  if (!caller.principal || space.empty()) return false;
  if (caller.principal->user.is_admin || EqualsIgnoringCase(space, caller.principal->user.name)) {
    return true;
  }
  auto role = caller.RoleIn(std::string(space));
  return role && *role != registry::OrgRole::kRead;
}

bool MayManage(const Caller& caller, const registry::Repo& repo) {
  if (caller.principal && caller.principal->user.is_admin) return true;
  return MayWriteNamespace(caller, RepoNamespace(repo.name));
}

Result<registry::Repo> FindVisibleRepo(const RequestContext& context, RepoType type,
                                       std::string_view name, RepoRight* right) {
  auto repo = context.registry.FindRepo(type, name);
  if (!repo.ok()) return repo.status();
  auto granted = ReadRight(context.caller, context.registry, *repo);
  if (!granted.ok()) return granted.status();
  if (*granted == RepoRight::kNone) {
    return Status(StatusCode::kRepoNotFound, "Repository " + std::string(name) + " not found");
  }
  *right = *granted;
  return repo;
}

Result<bool> HiddenFrom(const RequestContext& context, RepoType type, std::string_view name) {
  auto repo = context.registry.FindRepo(type, name);
  if (!repo.ok()) {
    if (repo.status().code() == StatusCode::kRepoNotFound) return false;
    return repo.status();
  }
  if (!repo->is_private) return false;
  auto right = ReadRight(context.caller, context.registry, *repo);
  if (!right.ok()) return right.status();
  return *right == RepoRight::kNone;
}

Response RepoNotFoundResponse(const std::string& repo, bool json_body) {
  return ErrorResponse(ApiError::kRepoNotFound, "Repository " + repo + " not found", json_body);
}

Response GatedResponse(const Caller& caller, const registry::Repo& repo, const std::string& origin,
                       bool json_body) {
  std::string what = std::string(RepoTypeName(repo.type)) + " " + repo.name;
  if (caller.anonymous()) {
    Response response = ErrorResponse(ApiError::kGatedRepoUnauthenticated,
                                      "Access to " + what +
                                          " is restricted. You must have access to it and be "
                                          "authenticated to access it. Please log in.",
                                      json_body);
    response.Set("WWW-Authenticate", "Bearer realm=\"Authentication required\"");
    return response;
  }
  std::string page = origin + (repo.type == RepoType::kDataset ? "/datasets/" : "/") + repo.name;
  return ErrorResponse(ApiError::kGatedRepoForbidden,
                       "Access to " + what +
                           " is restricted and you are not in the authorized list. Visit " + page +
                           " to ask for access.",
                       json_body);
}

Status HideLineageFromCaller(const RequestContext& context, registry::LineageGraph* graph) {
  auto private_ids = context.registry.PrivateModelIds();
  if (!private_ids.ok()) return private_ids.status();
  if (private_ids->empty()) return Status::Ok();
  std::set<std::string> candidates(private_ids->begin(), private_ids->end());
  std::set<std::string> hidden;
  for (const auto& node : graph->nodes) {
    if (!node.mirrored || !candidates.contains(AsciiLower(node.id))) continue;
    auto is_hidden = HiddenFrom(context, RepoType::kModel, node.id);
    if (!is_hidden.ok()) return is_hidden.status();
    if (*is_hidden) hidden.insert(node.id);
  }
  std::erase_if(graph->nodes, [&](const auto& node) { return hidden.contains(node.id); });
  std::erase_if(graph->edges, [&](const auto& edge) {
    return hidden.contains(edge.child) || hidden.contains(edge.parent);
  });
  std::erase_if(graph->roots, [&](const auto& root) { return hidden.contains(root); });
  return Status::Ok();
}

}  // namespace hubmirror::api
