// Gated and private repos, as the Hub's clients manage them: the gate form (POST
// /{repo}/ask-access), /api/{type}s/{repo}/auth-check, the access requests
// (/user-access-request/{pending,accepted,rejected,handle,grant}) and PUT .../settings.
#include "api/access.h"
#include "api/admin_actions.h"
#include "common/clock.h"

namespace hubmirror::api {

using nlohmann::json;

std::string AccessTerms(const registry::Repo& repo) {
  json card = json::parse(repo.card_data_json, nullptr, false);
  if (card.is_object()) {
    auto prompt = card.find("extra_gated_prompt");
    if (prompt != card.end() && prompt->is_string()) return prompt->get<std::string>();
  }
  return "The access conditions of " + RepoTarget(repo) + ".";
}

Result<registry::AccessRequest> AskForAccess(const RequestContext& context,
                                             const registry::Repo& repo, std::string_view form) {
  if (repo.gated == "false") return InvalidArgument(RepoTarget(repo) + " is not gated");
  std::string terms = AccessTerms(repo);
  Result<registry::AccessRequest> request = Status::Ok();
  Status written = Write(context, [&](registry::Registry& registry) {
    request = registry.RequestAccess(repo.type, repo.name, context.caller.name(), terms,
                                     repo.gated == "auto");
    return request.status();
  });
  if (!written.ok()) return written;
  std::string status(registry::AccessStatusName(request->status));
  // The form's fields, bounded: what the user filled in beside accepting the terms.
  json detail = {{"terms", terms}, {"form", form.substr(0, 4096)}};
  context.access.Audit(CallerEvent(context, "access.request", RepoTarget(repo), status, detail));
  return request;
}

std::optional<registry::Repo> ManagedRepo(const RequestContext& context, bool write,
                                          Response* refusal) {
  if (context.caller.anonymous()) {
    *refusal = ErrorResponse(ApiError::kUnauthorized, "You must be authenticated to do this", true);
    return std::nullopt;
  }
  RepoRight right = RepoRight::kNone;
  auto repo = FindVisibleRepo(context, context.route.type, context.route.repo, &right);
  if (!repo.ok()) {
    *refusal = ErrorFromStatus(repo.status(), true);
    return std::nullopt;
  }
  if (!MayManage(context.caller, *repo)) {
    *refusal = ErrorResponse(ApiError::kForbidden,
                             "you may not manage the access to " + RepoTarget(*repo), true);
    return std::nullopt;
  }
  if (write && context.caller.principal->token.scope != registry::TokenScope::kWrite) {
    *refusal = ErrorResponse(
        ApiError::kForbidden,
        "this token is read-only; a write token is needed to change " + RepoTarget(*repo), true);
    return std::nullopt;
  }
  return std::move(repo.value());
}

Response HandleAskAccess(const RequestContext& context) {
  bool json_body = false;
  if (context.caller.anonymous()) {
    return ErrorResponse(ApiError::kUnauthorized, "You must be authenticated to ask for access",
                         json_body);
  }
  RepoRight right = RepoRight::kNone;
  auto repo = FindVisibleRepo(context, context.route.type, context.route.repo, &right);
  if (!repo.ok()) return ErrorFromStatus(repo.status(), json_body);
  auto request = AskForAccess(context, *repo, context.request.body());
  if (!request.ok()) return ErrorFromStatus(request.status(), json_body);
  return JsonResponse({{"status", registry::AccessStatusName(request->status)}});
}

Response HandleAuthCheck(const RequestContext& context) {
  RepoRight right = RepoRight::kNone;
  auto repo = FindVisibleRepo(context, context.route.type, context.route.repo, &right);
  if (!repo.ok()) return ErrorFromStatus(repo.status(), true);
  if (context.route.path == "write") {
    Response refusal;
    if (!ManagedRepo(context, /*write=*/true, &refusal)) return refusal;
  } else if (right != RepoRight::kContent) {
    return GatedResponse(context.caller, *repo, context.origin, true);
  }
  return JsonResponse({{"repo", {{"id", repo->name}, {"type", RepoTypeName(repo->type)}}}});
}

Response HandleAccessRequests(const RequestContext& context) {
  Response refusal;
  auto repo = ManagedRepo(context, /*write=*/false, &refusal);
  if (!repo) return refusal;
  registry::AccessStatus status = registry::AccessStatus::kPending;
  registry::ParseAccessStatus(context.route.path, &status);  // the router allows only these
  auto requests = context.registry.ListAccessRequests(repo->type, repo->name, status);
  if (!requests.ok()) return ErrorFromStatus(requests.status(), true);
  json body = json::array();
  for (const auto& request : *requests) {
    json item = {{"user", {{"user", request.user}, {"fullname", request.user}}},
                 {"timestamp", FormatIsoMillis(request.requested_at_ms)},
                 {"status", registry::AccessStatusName(request.status)},
                 {"fields", {{"terms", request.terms}}}};
    if (!request.reason.empty()) item["rejectionReason"] = request.reason;
    body.push_back(std::move(item));
  }
  return JsonResponse(body);
}

Response HandleAccessDecision(const RequestContext& context) {
  Response refusal;
  auto repo = ManagedRepo(context, /*write=*/true, &refusal);
  if (!repo) return refusal;
  auto body = JsonObjectBody(context);
  if (!body.ok()) return ErrorFromStatus(body.status(), true);
  auto user = body->find("user");
  if (user == body->end() || !user->is_string()) {
    return ErrorResponse(ApiError::kBadRequest, "\"user\" must name a user", true);
  }
  registry::AccessStatus status = registry::AccessStatus::kAccepted;
  std::string reason;
  if (context.route.path == "handle") {
    auto given = body->find("status");
    if (given == body->end() || !given->is_string() ||
        !registry::ParseAccessStatus(given->get<std::string>(), &status)) {
      return ErrorResponse(ApiError::kBadRequest,
                           "\"status\" must be pending, accepted or rejected", true);
    }
    auto why = body->find("rejectionReason");
    if (why != body->end() && why->is_string()) reason = why->get<std::string>().substr(0, 1024);
  }
  std::string name = user->get<std::string>();
  Status decided = Write(context, [&](registry::Registry& registry) {
    return registry.DecideAccess(repo->type, repo->name, name, status, context.caller.name(),
                                 reason);
  });
  if (!decided.ok()) {
    if (decided.code() == StatusCode::kNotFound) {
      return ErrorResponse(ApiError::kBadRequest, "no user " + name.substr(0, 100), true);
    }
    return ErrorFromStatus(decided, true);
  }
  std::string outcome(registry::AccessStatusName(status));
  context.access.Audit(CallerEvent(context, "access.decide", RepoTarget(*repo), outcome,
                                   {{"user", name}, {"reason", reason}}));
  return JsonResponse(json::object());
}

Response HandleRepoSettings(const RequestContext& context) {
  Response refusal;
  auto repo = ManagedRepo(context, /*write=*/true, &refusal);
  if (!repo) return refusal;
  auto body = JsonObjectBody(context);
  if (!body.ok()) return ErrorFromStatus(body.status(), true);
  registry::RepoAccessSettings settings;
  if (auto gated = body->find("gated"); gated != body->end()) {
    if (gated->is_boolean() && !gated->get<bool>()) {
      settings.gated = "false";
    } else if (gated->is_string() && (*gated == "auto" || *gated == "manual")) {
      settings.gated = gated->get<std::string>();
    } else {
      return ErrorResponse(ApiError::kBadRequest, "\"gated\" must be false, \"auto\" or \"manual\"",
                           true);
    }
  }
  // huggingface_hub 1.x sends `private`, 0.28 and later `visibility` (hub-protocol.md §12.2.4).
  if (auto hidden = body->find("private"); hidden != body->end()) {
    if (!hidden->is_boolean()) {
      return ErrorResponse(ApiError::kBadRequest, "\"private\" must be true or false", true);
    }
    settings.is_private = hidden->get<bool>();
  }
  if (auto visibility = body->find("visibility"); visibility != body->end()) {
    if (*visibility != "public" && *visibility != "private") {
      return ErrorResponse(ApiError::kBadRequest, "\"visibility\" must be public or private", true);
    }
    settings.is_private = *visibility == "private";
  }
  if (!settings.gated && !settings.is_private) {
    return ErrorResponse(ApiError::kBadRequest, "give \"gated\", \"private\" or \"visibility\"",
                         true);
  }
  Status changed = Write(context, [&](registry::Registry& registry) {
    return registry.SetAccessSettings(repo->type, repo->name, settings);
  });
  if (!changed.ok()) return ErrorFromStatus(changed, true);
  json detail = json::object();
  if (settings.gated) detail["gated"] = *settings.gated;
  if (settings.is_private) detail["private"] = *settings.is_private;
  context.access.Audit(CallerEvent(context, "repo.settings", RepoTarget(*repo), "ok", detail));
  return JsonResponse(json::object());
}

}  // namespace hubmirror::api
