#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "registry/registry.h"

namespace hubmirror::api {

// The JSON shapes of users, organizations, tokens and audit events, one for every reader: the
// CLI's `--json` listings and the admin API answer with the same objects. Pure functions.

// {"name", "admin", "robot", "created_at"}.
nlohmann::json UserJson(const registry::User& user);
// {"name", "created_at", "members": [{"user", "role"}]}.
nlohmann::json OrgJson(const registry::Org& org);
// "active", "revoked" or "expired" (at `now_ms`).
std::string TokenState(const registry::TokenInfo& token, int64_t now_ms);
// {"user", "name", "scope", "state", "created_at", "expires_at", "revoked_at"}, times null for
// never. Never a secret: TokenInfo holds none.
nlohmann::json TokenJson(const registry::TokenInfo& token, int64_t now_ms);
// An ISO-8601 time, or null for 0 (never).
nlohmann::json TimeOrNull(int64_t unix_millis);

// {"KEY": [as_json(item)...]}: a listing as one JSON document.
template <typename Item, typename AsJson>
nlohmann::json ListingJson(const std::string& key, const std::vector<Item>& items,
                           AsJson&& as_json) {
  nlohmann::json listed = nlohmann::json::array();
  for (const Item& item : items) listed.push_back(as_json(item));
  return {{key, std::move(listed)}};
}

// The first events of the audit log from a time on, and whether more followed.
struct AuditPage {
  std::vector<registry::AuditEvent> events;
  bool more = false;
};

// Events of the last `since_seconds` (0: from the first event), oldest first, at most `limit`.
Result<AuditPage> ReadAuditPage(registry::Registry& registry, int64_t since_seconds, size_t limit);
// {"id", "at", "actor", "action", "target", "outcome", "address", "detail"}; the detail is the
// object it records, null when there is none, or its text should it not be JSON.
nlohmann::json AuditEventJson(const registry::AuditEvent& event);
// {"events": [...], "more": bool}.
nlohmann::json AuditPageJson(const AuditPage& page);

}  // namespace hubmirror::api
