// Retention: releasing the revisions a repo no longer keeps.
#include "registry/registry.h"
#include "registry/sqlite.h"

namespace hubmirror::registry {

Status Registry::SetKeepRevisions(RepoType type, std::string_view repo,
                                  std::optional<size_t> keep) {
  Statement s(*statements_,
              "UPDATE repos SET keep_revisions = ? WHERE type = ? AND name_lower = ?");
  if (keep) {
    s.Bind(1, static_cast<int64_t>(*keep));
  } else {
    s.BindNull(1);
  }
  s.Bind(2, RepoTypeName(type)).Bind(3, AsciiLower(repo));
  HM_RETURN_IF_ERROR(s.Run());
  if (sqlite3_changes(db_) == 0) {
    return Status(StatusCode::kRepoNotFound,
                  std::string(RepoTypeName(type)) + " " + std::string(repo) + " not found");
  }
  return Status::Ok();
}

Result<std::optional<size_t>> Registry::KeepRevisions(RepoType type, std::string_view repo) {
  Statement s(*statements_, "SELECT keep_revisions FROM repos WHERE type = ? AND name_lower = ?");
  s.Bind(1, RepoTypeName(type)).Bind(2, AsciiLower(repo));
  if (!s.Step()) {
    HM_RETURN_IF_ERROR(s.status());
    return Status(StatusCode::kRepoNotFound,
                  std::string(RepoTypeName(type)) + " " + std::string(repo) + " not found");
  }
  if (s.IsNull(0)) return std::optional<size_t>();
  return std::optional<size_t>(static_cast<size_t>(s.Int(0)));
}

Result<size_t> Registry::ReleaseRevisions(RepoType type, std::string_view repo, size_t keep) {
  if (keep == 0) return InvalidArgument("retention must keep at least one revision per branch");
  WriteTransaction transaction(db_);
  HM_RETURN_IF_ERROR(transaction.Begin());
  // Kept: each branch's newest `keep` commits along first parents, and the repo's `keep` recorded
  // last (a mirror knows its upstream's commits but not always their parents); every commit a
  // ref of any kind points at; commits a sync pinned by id. The depth bounds the walk, cycles
  // included.
  Statement s(
      *statements_,
      "WITH RECURSIVE r(id) AS (SELECT id FROM repos WHERE type = ?1 AND name_lower = ?2), "
      "chain(commit_id, depth) AS ("
      "  SELECT f.commit_id, 1 FROM refs f, r WHERE f.repo_id = r.id AND f.kind = 'branch' "
      "  UNION ALL "
      "  SELECT c.parent_id, chain.depth + 1 FROM chain, r JOIN commits c "
      "    ON c.repo_id = r.id AND c.id = chain.commit_id "
      "  WHERE chain.depth < ?3 AND c.parent_id IS NOT NULL) "
      "DELETE FROM commits WHERE repo_id = (SELECT id FROM r) "
      "AND id NOT IN (SELECT commit_id FROM chain) "
      "AND id NOT IN (SELECT c.id FROM commits c, r WHERE c.repo_id = r.id "
      "  ORDER BY c.recorded_at DESC, c.date DESC, c.id DESC LIMIT ?3) "
      "AND id NOT IN (SELECT f.commit_id FROM refs f, r WHERE f.repo_id = r.id) "
      "AND id NOT IN (SELECT local_commit FROM sync_state WHERE type = ?1 AND repo_lower = ?2 "
      "  AND local_commit IS NOT NULL)");
  s.Bind(1, RepoTypeName(type)).Bind(2, AsciiLower(repo)).Bind(3, static_cast<int64_t>(keep));
  HM_RETURN_IF_ERROR(s.Run());
  size_t released = static_cast<size_t>(sqlite3_changes(db_));
  HM_RETURN_IF_ERROR(transaction.Commit());
  return released;
}

}  // namespace hubmirror::registry
