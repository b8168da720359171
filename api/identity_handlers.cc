// Who the caller is: /api/whoami-v2 (hub-protocol.md §3.7, §12.2.1).
#include "api/access.h"
#include "common/clock.h"
#include "common/digest.h"

namespace hubmirror::api {
namespace {

using nlohmann::json;

// A stable 24-hex id, as the Hub gives users and organizations (names are unique, whatever
// their case).
std::string EntityId(std::string_view kind, std::string_view name) {
  return Sha1Hex(std::string(kind) + ":" + AsciiLower(name)).substr(0, 24);
}

}  // namespace

Response HandleWhoami(const RequestContext& context) {
  if (context.caller.anonymous()) {
    Response response = ErrorResponse(ApiError::kUnauthorized,
                                      "You must be authenticated to see who you are", true);
    response.Set("WWW-Authenticate", "Bearer realm=\"Authentication required\"");
    return response;
  }
  const registry::Principal& principal = *context.caller.principal;
  json orgs = json::array();
  for (const auto& [name, role] : principal.orgs) {
    orgs.push_back({{"type", "org"},
                    {"id", EntityId("org", name)},
                    {"name", name},
                    {"fullname", name},
                    {"email", nullptr},
                    {"canPay", false},
                    {"avatarUrl", ""},
                    {"periodEnd", nullptr},
                    {"roleInOrg", registry::OrgRoleName(role)}});
  }
  const registry::TokenInfo& token = principal.token;
  return JsonResponse({{"type", "user"},
                       {"id", EntityId("user", principal.user.name)},
                       {"name", principal.user.name},
                       {"fullname", principal.user.name},
                       {"email", nullptr},
                       {"emailVerified", false},
                       {"isPro", false},
                       {"canPay", false},
                       {"periodEnd", nullptr},
                       {"avatarUrl", ""},
                       {"isAdmin", principal.user.is_admin},
                       {"orgs", orgs},
                       {"auth",
                        {{"type", "access_token"},
                         {"accessToken",
                          {{"displayName", token.name},
                           {"role", registry::TokenScopeName(token.scope)},
                           {"createdAt", FormatIsoMillis(token.created_at_ms)}}}}}});
}

}  // namespace hubmirror::api
