// Administration of the instance over HTTP (/api/admin/...), for server admins: users,
// organizations and their members, tokens, grants and the audit log. The changes are the CLI's
// own (admin_actions.h) and the answers its `--json` objects (identity_json.h).
#include <algorithm>
#include <functional>
#include <type_traits>
#include <utility>

#include "api/access.h"
#include "api/admin_actions.h"
#include "api/identity_json.h"
#include "common/clock.h"

namespace hubmirror::api {
namespace {

using nlohmann::json;
using registry::Registry;

constexpr size_t kDefaultAuditLimit = 1000;
constexpr size_t kMaxAuditLimit = 10000;

bool IsChange(const RequestContext& context) {
  http::verb method = context.request.method();
  return method != http::verb::get && method != http::verb::head;
}

}  // namespace

std::optional<Response> AdminRefusal(const RequestContext& context) {
  const Caller& caller = context.caller;
  if (caller.anonymous()) {
    return ErrorResponse(ApiError::kUnauthorized,
                         "You must be authenticated to administer this server", true);
  }
  bool change = IsChange(context);
  std::string why;
  if (!caller.is_admin()) {
    why = "only the admins of this server may do this";
  } else if (change && caller.principal->token.scope != registry::TokenScope::kWrite) {
    why = "this token is read-only; a write token is needed to administer this server";
  }
  if (!why.empty()) {
    std::string_view target = context.request.target();
    std::string what = std::string(context.request.method_string()) + " " +
                       std::string(target.substr(0, std::min(target.find('?'), size_t{256})));
    context.access.AuditRefusal(CallerEvent(context, "admin.refused", what, "refused"));
    return ErrorResponse(ApiError::kForbidden, why, true);
  }
  if (change && context.access.writer() == nullptr) {
    return ErrorResponse(ApiError::kServiceUnavailable, "this server cannot make changes", true);
  }
  return std::nullopt;
}

namespace {

// Answers what `read` finds on this thread's connection, in one read transaction.
Response Read(const RequestContext& context, const std::function<Result<json>(Registry&)>& read) {
  registry::ReadSnapshot snapshot(context.registry);
  if (!snapshot.status().ok()) return ErrorFromStatus(snapshot.status(), true);
  auto body = read(context.registry);
  if (!body.ok()) return ErrorFromStatus(body.status(), true);
  return JsonResponse(*body);
}

template <typename Item, typename AsJson>
Result<json> Listing(const std::string& key, Result<std::vector<Item>> items, AsJson&& as_json) {
  if (!items.ok()) return items.status();
  return ListingJson(key, *items, std::forward<AsJson>(as_json));
}

// Makes a change on the server's writer connection and records it in the audit log as the
// caller's. Answers what the change puts in `answer` (an empty object unless it sets one), or
// its failure: 400 for invalid input, 404 for an unknown name, 409 for a name taken.
Response Apply(const RequestContext& context,
               const std::function<Result<AdminAction>(Registry&, json* answer)>& change) {
  json answer = json::object();
  std::optional<AdminAction> done;
  Status written = Write(context, [&](Registry& registry) {
    auto action = change(registry, &answer);
    if (!action.ok()) return action.status();
    done = std::move(action.value());
    return Status::Ok();
  });
  if (!written.ok()) return ErrorFromStatus(written, true);
  context.access.Audit(AuditRecord(*done, context.caller.name(), context.caller.address));
  return JsonResponse(answer);
}

// Reads the field `key` of a request body into `*value` (a bool, or a string or optional one)
// when it is there. kInvalidArgument when it has another JSON type, or is absent while `required`.
template <typename Value>
Status Field(const json& body, const std::string& key, Value* value, bool required = false) {
  constexpr bool kBool = std::is_same_v<Value, bool>;
  auto found = body.find(key);
  if (found == body.end() || found->is_null()) {
    if (!required) return Status::Ok();
    return InvalidArgument("the body needs \"" + key + "\"");
  }
  if (kBool ? !found->is_boolean() : !found->is_string()) {
    return InvalidArgument("\"" + key + "\" must be " + (kBool ? "true or false" : "a string"));
  }
  if constexpr (kBool) {
    *value = found->get<bool>();
  } else {
    *value = found->get<std::string>();
  }
  return Status::Ok();
}

// The seconds of a DURATION (30s, 15m, 24h, 90d) given as `what`; 0 when absent.
Result<int64_t> DurationSeconds(const std::optional<std::string>& text, const std::string& what) {
  if (!text) return int64_t{0};
  std::optional<int64_t> seconds = ParseDuration(*text);
  if (!seconds) {
    return InvalidArgument(what + " must be a duration such as 30s, 15m, 24h or 90d");
  }
  return *seconds;
}

// Reads the fields a handler wants from the request's body, which must be a JSON object.
Status ReadBody(const RequestContext& context, const std::function<Status(const json&)>& read) {
  auto body = JsonObjectBody(context);
  return body.ok() ? read(*body) : body.status();
}

}  // namespace

Response HandleAdminUsers(const RequestContext& context) {
  if (auto refusal = AdminRefusal(context)) return std::move(*refusal);
  if (!IsChange(context)) {
    return Read(context, [](Registry& registry) {
      return Listing("users", registry.ListUsers(), UserJson);
    });
  }
  std::string name;
  bool admin = false;
  bool robot = false;
  Status fields = ReadBody(context, [&](const json& body) {
    HM_RETURN_IF_ERROR(Field(body, "name", &name, /*required=*/true));
    HM_RETURN_IF_ERROR(Field(body, "admin", &admin));
    return Field(body, "robot", &robot);
  });
  if (!fields.ok()) return ErrorFromStatus(fields, true);
  return Apply(context, [&](Registry& registry, json* answer) -> Result<AdminAction> {
    auto action = AddUser(registry, name, admin, robot);
    if (!action.ok()) return action;
    auto user = registry.FindUser(name);
    if (!user.ok()) return user.status();
    *answer = UserJson(*user);
    return action;
  });
}

Response HandleAdminUser(const RequestContext& context) {
  if (auto refusal = AdminRefusal(context)) return std::move(*refusal);
  return Apply(context, [&](Registry& registry, json*) {
    return RemoveUser(registry, context.route.account);
  });
}

Response HandleAdminOrgs(const RequestContext& context) {
  if (auto refusal = AdminRefusal(context)) return std::move(*refusal);
  if (!IsChange(context)) {
    return Read(context,
                [](Registry& registry) { return Listing("orgs", registry.ListOrgs(), OrgJson); });
  }
  std::string name;
  Status fields =
      ReadBody(context, [&](const json& body) { return Field(body, "name", &name, true); });
  if (!fields.ok()) return ErrorFromStatus(fields, true);
  return Apply(context, [&](Registry& registry, json* answer) -> Result<AdminAction> {
    auto action = AddOrg(registry, name);
    if (!action.ok()) return action;
    auto orgs = registry.ListOrgs();
    if (!orgs.ok()) return orgs.status();
    for (const auto& org : *orgs) {
      if (AsciiLower(org.name) == AsciiLower(name)) *answer = OrgJson(org);
    }
    return action;
  });
}

Response HandleAdminOrgMember(const RequestContext& context) {
  if (auto refusal = AdminRefusal(context)) return std::move(*refusal);
  const std::string& org = context.route.account;
  const std::string& user = context.route.item;
  if (context.request.method() == http::verb::delete_) {
    return Apply(context,
                 [&](Registry& registry, json*) { return RemoveOrgMember(registry, org, user); });
  }
  std::string role_name;
  registry::OrgRole role = registry::OrgRole::kRead;
  Status fields = ReadBody(context, [&](const json& body) {
    HM_RETURN_IF_ERROR(Field(body, "role", &role_name, true));
    if (registry::ParseOrgRole(role_name, &role)) return Status::Ok();
    return InvalidArgument("\"role\" must be read, write or admin");
  });
  if (!fields.ok()) return ErrorFromStatus(fields, true);
  return Apply(context, [&](Registry& registry, json* answer) {
    *answer = {{"org", org}, {"user", user}, {"role", role_name}};
    return SetOrgMember(registry, org, user, role);
  });
}

Response HandleAdminTokens(const RequestContext& context) {
  if (auto refusal = AdminRefusal(context)) return std::move(*refusal);
  if (!IsChange(context)) {
    std::string user = QueryValue(context.route.query, "user").value_or("");
    return Read(context, [&user](Registry& registry) {
      int64_t now_ms = NowUnixMillis();
      return Listing(
          "tokens", registry.ListTokens(user),
          [now_ms](const registry::TokenInfo& token) { return TokenJson(token, now_ms); });
    });
  }
  TokenRequest request;
  Status fields = ReadBody(context, [&](const json& body) {
    std::string scope = "read";
    std::optional<std::string> expires;
    HM_RETURN_IF_ERROR(Field(body, "user", &request.user, true));
    HM_RETURN_IF_ERROR(Field(body, "name", &request.name));
    HM_RETURN_IF_ERROR(Field(body, "scope", &scope));
    HM_RETURN_IF_ERROR(Field(body, "expires", &expires));
    if (!registry::ParseTokenScope(scope, &request.scope)) {
      return InvalidArgument("\"scope\" must be read or write");
    }
    auto seconds = DurationSeconds(expires, "\"expires\"");
    if (!seconds.ok()) return seconds.status();
    request.expires_seconds = *seconds;
    return Status::Ok();
  });
  if (!fields.ok()) return ErrorFromStatus(fields, true);
  return Apply(context, [&](Registry& registry, json* answer) -> Result<AdminAction> {
    CreatedToken created;
    auto action = CreateToken(registry, request, &created);
    if (!action.ok()) return action;
    // The only answer that carries the secret: it is stored as its hash alone.
    *answer = TokenJson(created.info, NowUnixMillis());
    (*answer)["token"] = created.secret;
    return action;
  });
}

Response HandleAdminToken(const RequestContext& context) {
  if (auto refusal = AdminRefusal(context)) return std::move(*refusal);
  return Apply(context, [&](Registry& registry, json*) {
    return RevokeToken(registry, context.route.account, context.route.item);
  });
}

Response HandleAdminAccess(const RequestContext& context) {
  if (auto refusal = AdminRefusal(context)) return std::move(*refusal);
  std::string repo;
  std::string user;
  RepoType type = RepoType::kModel;
  Status fields = ReadBody(context, [&](const json& body) {
    std::string type_name = "model";
    HM_RETURN_IF_ERROR(Field(body, "repo", &repo, true));
    HM_RETURN_IF_ERROR(Field(body, "type", &type_name));
    HM_RETURN_IF_ERROR(Field(body, "user", &user, true));
    HM_RETURN_IF_ERROR(ValidateRepoId(repo));
    if (ParseRepoType(type_name, &type)) return Status::Ok();
    return InvalidArgument("\"type\" must be model or dataset");
  });
  if (!fields.ok()) return ErrorFromStatus(fields, true);
  bool grant = context.request.method() == http::verb::post;
  return Apply(context, [&](Registry& registry, json* answer) -> Result<AdminAction> {
    bool open_to_all = false;
    auto action =
        ChangeAccess(registry, type, repo, user, grant, context.caller.name(), &open_to_all);
    if (action.ok() && grant && open_to_all) (*answer)["warning"] = kGrantOnOpenRepo;
    return action;
  });
}

Response HandleAdminAudit(const RequestContext& context) {
  if (auto refusal = AdminRefusal(context)) return std::move(*refusal);
  auto since = DurationSeconds(QueryValue(context.route.query, "since"), "since");
  if (!since.ok()) return ErrorFromStatus(since.status(), true);
  auto limit = IntegerParam(context.route.query, "limit");
  if (!limit.ok()) return ErrorFromStatus(limit.status(), true);
  size_t count = static_cast<size_t>(limit->value_or(kDefaultAuditLimit));
  if (count < 1 || count > kMaxAuditLimit) {
    return ErrorResponse(ApiError::kBadRequest,
                         "limit must be from 1 to " + std::to_string(kMaxAuditLimit), true);
  }
  return Read(context, [&](Registry& registry) -> Result<json> {
    auto page = ReadAuditPage(registry, *since, count);
    if (!page.ok()) return page.status();
    return AuditPageJson(*page);
  });
}

}  // namespace hubmirror::api
