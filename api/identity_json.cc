#include "api/identity_json.h"

#include "common/clock.h"

namespace hubmirror::api {

using nlohmann::json;

json UserJson(const registry::User& user) {
  return {{"name", user.name},
          {"admin", user.is_admin},
          {"robot", user.is_robot},
          {"created_at", FormatIsoMillis(user.created_at_ms)}};
}

json OrgJson(const registry::Org& org) {
  json members = json::array();
  for (const auto& member : org.members) {
    members.push_back({{"user", member.user}, {"role", registry::OrgRoleName(member.role)}});
  }
  return {{"name", org.name},
          {"created_at", FormatIsoMillis(org.created_at_ms)},
          {"members", std::move(members)}};
}

std::string TokenState(const registry::TokenInfo& token, int64_t now_ms) {
  if (token.revoked_at_ms != 0) return "revoked";
  if (token.expires_at_ms != 0 && token.expires_at_ms <= now_ms) return "expired";
  return "active";
}

json TokenJson(const registry::TokenInfo& token, int64_t now_ms) {
  return {{"user", token.user},
          {"name", token.name},
          {"scope", registry::TokenScopeName(token.scope)},
          {"state", TokenState(token, now_ms)},
          {"created_at", FormatIsoMillis(token.created_at_ms)},
          {"expires_at", TimeOrNull(token.expires_at_ms)},
          {"revoked_at", TimeOrNull(token.revoked_at_ms)}};
}

json TimeOrNull(int64_t unix_millis) {
  return unix_millis == 0 ? json() : json(FormatIsoMillis(unix_millis));
}

Result<AuditPage> ReadAuditPage(registry::Registry& registry, int64_t since_seconds, size_t limit) {
  int64_t since_ms = since_seconds == 0 ? 0 : NowUnixMillis() - since_seconds * 1000;
  // One more than asked for tells whether events were left out.
  auto events = registry.ListAudit(since_ms, limit + 1);
  if (!events.ok()) return events.status();
  AuditPage page;
  page.more = events->size() > limit;
  if (page.more) events->resize(limit);
  page.events = std::move(events.value());
  return page;
}

json AuditEventJson(const registry::AuditEvent& event) {
  json detail;
  if (!event.detail.empty()) {
    detail = json::parse(event.detail, nullptr, false);
    if (detail.is_discarded()) detail = event.detail;
  }
  return {{"id", event.id},           {"at", FormatIsoMillis(event.at_ms)},
          {"actor", event.actor},     {"action", event.action},
          {"target", event.target},   {"outcome", event.outcome},
          {"address", event.address}, {"detail", std::move(detail)}};
}

json AuditPageJson(const AuditPage& page) {
  json listing = ListingJson("events", page.events, AuditEventJson);
  listing["more"] = page.more;
  return listing;
}

}  // namespace hubmirror::api
