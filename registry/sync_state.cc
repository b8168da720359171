// Sync state: what each mirrored repo revision's last sync found.
#include "registry/registry.h"
#include "registry/sqlite.h"

namespace hubmirror::registry {

// One statement, so atomic by itself, and part of a RecordSyncOutcome transaction when in one.
Status Registry::RecordSync(const SyncState& state) {
  bool success = state.last_error.empty();
  Statement s(
      *statements_,
      "INSERT INTO sync_state (type, repo, repo_lower, revision, upstream, upstream_commit, "
      "local_commit, last_check, last_success, last_error, source) "
      "VALUES (?1, ?2, ?3, ?4, ?5, NULLIF(?6, ''), NULLIF(?7, ''), ?8, "
      "CASE WHEN ?10 = '' THEN ?9 END, NULLIF(?10, ''), ?11) "
      "ON CONFLICT (type, repo_lower, revision) DO UPDATE SET "
      "repo = excluded.repo, upstream = excluded.upstream, "
      "upstream_commit = COALESCE(excluded.upstream_commit, upstream_commit), "
      "local_commit = CASE WHEN ?10 = '' THEN excluded.local_commit ELSE local_commit END, "
      "last_check = excluded.last_check, "
      "last_success = CASE WHEN ?10 = '' THEN excluded.last_success ELSE last_success END, "
      "last_error = excluded.last_error, "
      // A revision a rule syncs stays the rule's, whatever a client asked for meanwhile.
      "source = CASE WHEN excluded.source = 'sync' THEN 'sync' ELSE source END");
  s.Bind(1, RepoTypeName(state.type)).Bind(2, state.repo).Bind(3, AsciiLower(state.repo));
  s.Bind(4, state.revision).Bind(5, state.upstream).Bind(6, state.upstream_commit);
  s.Bind(7, state.local_commit).Bind(8, state.last_check_ms);
  s.Bind(9, success ? state.last_success_ms : 0).Bind(10, state.last_error);
  s.Bind(11, state.pull_through ? "pull-through" : "sync");
  return s.Run();
}

namespace {

constexpr const char* kSyncStateColumns =
    "SELECT type, repo, revision, upstream, upstream_commit, local_commit, last_check, "
    "last_success, last_error, source FROM sync_state ";

SyncState ReadSyncState(const Statement& s) {
  SyncState state;
  ParseRepoType(s.Text(0), &state.type);
  state.repo = s.Text(1);
  state.revision = s.Text(2);
  state.upstream = s.Text(3);
  state.upstream_commit = s.Text(4);
  state.local_commit = s.Text(5);
  state.last_check_ms = s.Int(6);
  state.last_success_ms = s.Int(7);
  state.last_error = s.Text(8);
  state.pull_through = s.Text(9) == "pull-through";
  return state;
}

}  // namespace

Result<bool> Registry::HasSyncState(RepoType type, std::string_view repo) {
  Statement s(*statements_, "SELECT 1 FROM sync_state WHERE type = ? AND repo_lower = ? LIMIT 1");
  s.Bind(1, RepoTypeName(type)).Bind(2, AsciiLower(repo));
  if (s.Step()) return true;
  HM_RETURN_IF_ERROR(s.status());
  return false;
}

Result<bool> Registry::AllowsLocalWrites(RepoType type, std::string_view repo) {
  Statement s(*statements_, "SELECT local_writes FROM repos WHERE type = ? AND name_lower = ?");
  s.Bind(1, RepoTypeName(type)).Bind(2, AsciiLower(repo));
  if (s.Step()) return s.Int(0) != 0;
  HM_RETURN_IF_ERROR(s.status());
  return false;
}

Status Registry::SetLocalWrites(RepoType type, std::string_view repo, bool allowed) {
  Statement s(*statements_, "UPDATE repos SET local_writes = ? WHERE type = ? AND name_lower = ?");
  s.Bind(1, int64_t{allowed ? 1 : 0}).Bind(2, RepoTypeName(type)).Bind(3, AsciiLower(repo));
  return s.Run();
}

Result<std::optional<SyncState>> Registry::FindSyncState(RepoType type, std::string_view repo,
                                                         std::string_view revision) {
  Statement s(*statements_, std::string(kSyncStateColumns) +
                                "WHERE type = ? AND repo_lower = ? AND revision = ?");
  s.Bind(1, RepoTypeName(type)).Bind(2, AsciiLower(repo)).Bind(3, revision);
  if (s.Step()) return std::optional<SyncState>(ReadSyncState(s));
  HM_RETURN_IF_ERROR(s.status());
  return std::optional<SyncState>();
}

Result<std::vector<SyncState>> Registry::ListSyncStates() {
  Statement s(*statements_, std::string(kSyncStateColumns) + "ORDER BY type, repo_lower, revision");
  std::vector<SyncState> states;
  while (s.Step()) states.push_back(ReadSyncState(s));
  HM_RETURN_IF_ERROR(s.status());
  return states;
}

Result<bool> Registry::RecordSyncOutcome(const SyncOutcome& outcome) {
  WriteTransaction transaction(db_);
  HM_RETURN_IF_ERROR(transaction.Begin());
  bool published = false;
  if (outcome.revision) {
    auto changed = PublishInTransaction(*outcome.revision);
    if (!changed.ok()) return changed.status();
    published = *changed;
  }
  if (!outcome.details.empty()) HM_RETURN_IF_ERROR(WriteModelDetails(outcome.details));
  if (outcome.repo_details) {
    HM_RETURN_IF_ERROR(
        UpdateDetailsInTransaction(outcome.state.type, outcome.state.repo, *outcome.repo_details));
  }
  HM_RETURN_IF_ERROR(RecordSync(outcome.state));
  HM_RETURN_IF_ERROR(transaction.Commit());
  return published;
}

}  // namespace hubmirror::registry
