// The audit log: security-relevant events, appended and never changed (the schema refuses it).
#include <algorithm>
#include <limits>

#include "common/clock.h"
#include "registry/registry.h"
#include "registry/sqlite.h"

namespace hubmirror::registry {

Status Registry::RecordAudit(const AuditEvent& event) {
  Statement s(*statements_,
              "INSERT INTO audit_events (at, actor, action, target, outcome, address, detail) "
              "VALUES (?, ?, ?, ?, ?, ?, ?)");
  s.Bind(1, event.at_ms != 0 ? event.at_ms : NowUnixMillis()).Bind(2, event.actor);
  s.Bind(3, event.action).Bind(4, event.target).Bind(5, event.outcome);
  s.Bind(6, event.address).Bind(7, event.detail);
  return s.Run();
}

namespace {

Result<std::vector<AuditEvent>> ReadAuditEvents(Statement& s) {
  std::vector<AuditEvent> events;
  while (s.Step()) {
    events.push_back(AuditEvent{s.Int(0), s.Int(1), s.Text(2), s.Text(3), s.Text(4), s.Text(5),
                                s.Text(6), s.Text(7)});
  }
  HM_RETURN_IF_ERROR(s.status());
  return events;
}

constexpr size_t kNoLimit = std::numeric_limits<int64_t>::max();

}  // namespace

Result<std::vector<AuditEvent>> Registry::LatestAudit(size_t limit) {
  Statement s(*statements_,
              "SELECT id, at, actor, action, target, outcome, address, detail FROM audit_events "
              "ORDER BY at DESC, id DESC LIMIT ?");
  s.Bind(1, static_cast<int64_t>(std::min(limit, kNoLimit)));
  return ReadAuditEvents(s);
}

Result<std::vector<AuditEvent>> Registry::ListAudit(int64_t since_ms, size_t limit) {
  Statement s(*statements_,
              "SELECT id, at, actor, action, target, outcome, address, detail FROM audit_events "
              "WHERE at >= ? ORDER BY at, id LIMIT ?");
  s.Bind(1, since_ms).Bind(2, static_cast<int64_t>(std::min(limit, kNoLimit)));
  return ReadAuditEvents(s);
}

}  // namespace hubmirror::registry
