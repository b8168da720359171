// Changes to a repo as a whole, which publishing makes (new refs, deletion), and what a
// namespace's repos hold.
#include "common/git_refs.h"
#include "registry/registry.h"
#include "registry/sqlite.h"

namespace hubmirror::registry {

Status Registry::CreateRef(RepoType type, std::string_view repo, const RefName& ref,
                           const std::string& commit_id) {
  auto found = FindRepo(type, repo);
  if (!found.ok()) return found.status();
  WriteTransaction transaction(db_);
  HM_RETURN_IF_ERROR(transaction.Begin());
  {
    Statement s(*statements_, "SELECT 1 FROM commits WHERE repo_id = ? AND id = ?");
    s.Bind(1, found->id).Bind(2, commit_id);
    if (!s.Step()) {
      HM_RETURN_IF_ERROR(s.status());
      return Status(StatusCode::kRevisionNotFound, "Invalid rev id: " + commit_id);
    }
  }
  Statement s(*statements_,
              "INSERT INTO refs (repo_id, kind, name, commit_id) VALUES (?, ?, ?, ?) "
              "ON CONFLICT (repo_id, kind, name) DO NOTHING");
  s.Bind(1, found->id).Bind(2, RefKindName(ref.kind)).Bind(3, RefRevision(ref)).Bind(4, commit_id);
  HM_RETURN_IF_ERROR(s.Run());
  if (sqlite3_changes(db_) == 0) {
    return Status(StatusCode::kAlreadyExists, "Reference " + FullRefName(ref) + " already exists");
  }
  return transaction.Commit();
}

Result<uint64_t> Registry::NamespaceBytes(std::string_view space, int64_t with_repo_id) {
  Statement s(*statements_,
              "SELECT COALESCE(SUM(b.size), 0) FROM blobs b WHERE b.sha256 IN ("
              "  SELECT e.sha256 FROM entries e JOIN repos r ON r.id = e.repo_id "
              "  WHERE (r.author = ?1 COLLATE NOCASE OR r.id = ?2) AND e.sha256 IS NOT NULL)");
  s.Bind(1, space).Bind(2, with_repo_id);
  if (!s.Step()) return s.status().ok() ? Internal("no sum row") : s.status();
  return static_cast<uint64_t>(s.Int(0));
}

Result<std::vector<bool>> Registry::NamespaceUses(std::string_view space,
                                                  const std::vector<std::string>& sha256s) {
  Statement s(*statements_,
              "SELECT 1 FROM entries e JOIN repos r ON r.id = e.repo_id "
              "WHERE e.sha256 = ?2 AND r.author = ?1 COLLATE NOCASE LIMIT 1");
  std::vector<bool> used;
  used.reserve(sha256s.size());
  for (const auto& sha256 : sha256s) {
    s.Reset();
    s.Bind(1, space).Bind(2, sha256);
    used.push_back(s.Step());
    HM_RETURN_IF_ERROR(s.status());
  }
  return used;
}

Status Registry::DeleteRepo(RepoType type, std::string_view repo) {
  auto found = FindRepo(type, repo);
  if (!found.ok()) return found.status();
  std::string lower = AsciiLower(repo);
  WriteTransaction transaction(db_);
  HM_RETURN_IF_ERROR(transaction.Begin());
  for (const char* sql : {"DELETE FROM sync_state WHERE type = ?1 AND repo_lower = ?2",
                          "DELETE FROM lineage_edges WHERE ?1 = 'model' AND child_lower = ?2 "
                          "AND source IN ('card', 'baseModels')",
                          "DELETE FROM repos WHERE type = ?1 AND name_lower = ?2"}) {
    Statement s(*statements_, sql);
    s.Bind(1, RepoTypeName(type)).Bind(2, lower);
    HM_RETURN_IF_ERROR(s.Run());
  }
  return transaction.Commit();
}

Status Registry::MoveRepo(RepoType type, std::string_view from, std::string_view to) {
  auto found = FindRepo(type, from);
  if (!found.ok()) return found.status();
  WriteTransaction transaction(db_);
  HM_RETURN_IF_ERROR(transaction.Begin());
  // Only the case of the name may change without another repo standing in the way.
  if (AsciiLower(from) != AsciiLower(to)) {
    if (auto taken = FindRepo(type, to); taken.ok()) {
      return Status(StatusCode::kAlreadyExists, "A " + std::string(RepoTypeName(type)) +
                                                    " repository called " + taken->name +
                                                    " already exists");
    } else if (taken.status().code() != StatusCode::kRepoNotFound) {
      return taken.status();
    }
  }
  {
    Statement s(*statements_, "UPDATE repos SET name = ?, name_lower = ?, author = ? WHERE id = ?");
    s.Bind(1, to).Bind(2, AsciiLower(to)).Bind(3, RepoNamespace(to)).Bind(4, found->id);
    HM_RETURN_IF_ERROR(s.Run());
  }
  if (type == RepoType::kModel) {
    Statement s(*statements_,
                "UPDATE lineage_edges SET child = ?, child_lower = ? "
                "WHERE child_lower = ? AND source IN ('card', 'baseModels')");
    s.Bind(1, to).Bind(2, AsciiLower(to)).Bind(3, AsciiLower(found->name));
    HM_RETURN_IF_ERROR(s.Run());
  }
  return transaction.Commit();
}

}  // namespace hubmirror::registry
