// Refs of every kind: listing and deletion (publishing moves them, see publish.cc).
#include "registry/registry.h"
#include "registry/sqlite.h"

namespace hubmirror::registry {

Result<std::vector<Ref>> Registry::ListRefs(const Repo& repo) {
  Statement s(*statements_,
              "SELECT kind, name, commit_id FROM refs WHERE repo_id = ? ORDER BY kind, name");
  s.Bind(1, repo.id);
  std::vector<Ref> refs;
  while (s.Step()) {
    Ref ref{RefKind::kBranch, s.Text(1), s.Text(2)};
    ParseRefKind(s.Text(0), &ref.kind);  // the schema allows no other kind
    // Pull requests and conversions are stored under their full names (see 0003's comment).
    if (auto full = ParseFullRefName(ref.name); full && full->kind == ref.kind) {
      ref.name = full->name;
    }
    refs.push_back(std::move(ref));
  }
  if (!s.status().ok()) return s.status();
  return refs;
}

Result<size_t> Registry::DeleteRefs(RepoType type, std::string_view repo,
                                    const std::vector<RefName>& refs) {
  WriteTransaction transaction(db_);
  HM_RETURN_IF_ERROR(transaction.Begin());
  Statement s(*statements_,
              "DELETE FROM refs WHERE kind = ?3 AND name = ?4 AND repo_id = "
              "(SELECT id FROM repos WHERE type = ?1 AND name_lower = ?2)");
  // What sync recorded of a ref that is gone would show on status pages as still mirrored.
  Statement state(*statements_,
                  "DELETE FROM sync_state WHERE type = ?1 AND repo_lower = ?2 AND "
                  "revision IN (?3, ?4)");
  size_t deleted = 0;
  for (const auto& ref : refs) {
    s.Reset();
    s.Bind(1, RepoTypeName(type)).Bind(2, AsciiLower(repo));
    s.Bind(3, RefKindName(ref.kind)).Bind(4, RefRevision(ref));
    HM_RETURN_IF_ERROR(s.Run());
    if (sqlite3_changes(db_) == 0) continue;
    ++deleted;
    state.Reset();
    state.Bind(1, RepoTypeName(type)).Bind(2, AsciiLower(repo));
    state.Bind(3, RefRevision(ref)).Bind(4, FullRefName(ref));
    HM_RETURN_IF_ERROR(state.Run());
  }
  HM_RETURN_IF_ERROR(transaction.Commit());
  return deleted;
}

}  // namespace hubmirror::registry
