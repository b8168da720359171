// Retention: releasing the revisions a repo no longer keeps.
#include "common/clock.h"
#include "registry/registry.h"
#include "registry/sqlite.h"

namespace hubmirror::registry {
namespace {

Status RepoNotFound(RepoType type, std::string_view repo) {
  return Status(StatusCode::kRepoNotFound,
                std::string(RepoTypeName(type)) + " " + std::string(repo) + " not found");
}

Status CheckRetention(const Retention& retention) {
  if (!retention.Any()) return InvalidArgument("retention keeps nothing: set revisions or an age");
  if (retention.revisions && *retention.revisions == 0) {
    return InvalidArgument("retention must keep at least one revision per branch");
  }
  if (retention.within_seconds && *retention.within_seconds <= 0) {
    return InvalidArgument("retention by age needs a positive duration");
  }
  return Status::Ok();
}

}  // namespace

Status Registry::SetRetention(RepoType type, std::string_view repo, const Retention& retention) {
  if (retention.Any()) HM_RETURN_IF_ERROR(CheckRetention(retention));
  Statement s(*statements_,
              "UPDATE repos SET keep_revisions = ?, keep_within_seconds = ? "
              "WHERE type = ? AND name_lower = ?");
  if (retention.revisions) {
    s.Bind(1, static_cast<int64_t>(*retention.revisions));
  } else {
    s.BindNull(1);
  }
  if (retention.within_seconds) {
    s.Bind(2, *retention.within_seconds);
  } else {
    s.BindNull(2);
  }
  s.Bind(3, RepoTypeName(type)).Bind(4, AsciiLower(repo));
  HM_RETURN_IF_ERROR(s.Run());
  if (sqlite3_changes(db_) == 0) return RepoNotFound(type, repo);
  return Status::Ok();
}

Result<Retention> Registry::GetRetention(RepoType type, std::string_view repo) {
  Statement s(*statements_,
              "SELECT keep_revisions, keep_within_seconds FROM repos "
              "WHERE type = ? AND name_lower = ?");
  s.Bind(1, RepoTypeName(type)).Bind(2, AsciiLower(repo));
  if (!s.Step()) {
    HM_RETURN_IF_ERROR(s.status());
    return RepoNotFound(type, repo);
  }
  Retention retention;
  if (!s.IsNull(0)) retention.revisions = static_cast<size_t>(s.Int(0));
  if (!s.IsNull(1)) retention.within_seconds = s.Int(1);
  return retention;
}

Result<size_t> Registry::ReleaseRevisions(RepoType type, std::string_view repo,
                                          const Retention& retention) {
  HM_RETURN_IF_ERROR(CheckRetention(retention));
  // No count rule: the newest-N clauses keep nothing (a depth of 0 ends the walk at once).
  int64_t keep = retention.revisions ? static_cast<int64_t>(*retention.revisions) : 0;
  // No age rule: nothing is young enough (a cut-off before any date).
  int64_t young_from_ms =
      retention.within_seconds ? NowUnixMillis() - *retention.within_seconds * 1000 : INT64_MAX;
  WriteTransaction transaction(db_);
  HM_RETURN_IF_ERROR(transaction.Begin());
  // Kept: each branch's newest `keep` commits along first parents, and the repo's `keep` recorded
  // last (a mirror knows its upstream's commits but not always their parents); commits dated from
  // the cut-off on (the upstream's date, or when recorded for commits without one); every commit
  // a ref of any kind points at; commits a sync pinned by id. The depth bounds the walk, cycles
  // included.
  Statement s(
      *statements_,
      "WITH RECURSIVE r(id) AS (SELECT id FROM repos WHERE type = ?1 AND name_lower = ?2), "
      "chain(commit_id, depth) AS ("
      "  SELECT f.commit_id, 1 FROM refs f, r WHERE f.repo_id = r.id AND f.kind = 'branch' "
      "  AND ?3 > 0 "
      "  UNION ALL "
      "  SELECT c.parent_id, chain.depth + 1 FROM chain, r JOIN commits c "
      "    ON c.repo_id = r.id AND c.id = chain.commit_id "
      "  WHERE chain.depth < ?3 AND c.parent_id IS NOT NULL) "
      "DELETE FROM commits WHERE repo_id = (SELECT id FROM r) "
      "AND id NOT IN (SELECT commit_id FROM chain) "
      "AND id NOT IN (SELECT c.id FROM commits c, r WHERE c.repo_id = r.id "
      "  ORDER BY c.recorded_at DESC, c.date DESC, c.id DESC LIMIT ?3) "
      "AND (CASE WHEN date > 0 THEN date ELSE recorded_at END) < ?4 "
      "AND id NOT IN (SELECT f.commit_id FROM refs f, r WHERE f.repo_id = r.id) "
      "AND id NOT IN (SELECT local_commit FROM sync_state WHERE type = ?1 AND repo_lower = ?2 "
      "  AND local_commit IS NOT NULL)");
  s.Bind(1, RepoTypeName(type)).Bind(2, AsciiLower(repo)).Bind(3, keep).Bind(4, young_from_ms);
  HM_RETURN_IF_ERROR(s.Run());
  size_t released = static_cast<size_t>(sqlite3_changes(db_));
  HM_RETURN_IF_ERROR(transaction.Commit());
  return released;
}

}  // namespace hubmirror::registry
