// The upstream's repo flags and details, refreshed on every sync, and the repo's card.
#include <nlohmann/json.hpp>

#include "common/json_text.h"
#include "registry/registry.h"
#include "registry/sqlite.h"

namespace hubmirror::registry {

Status Registry::UpdateRepoDetails(RepoType type, std::string_view repo,
                                   const RepoDetails& details) {
  WriteTransaction transaction(db_);
  HM_RETURN_IF_ERROR(transaction.Begin());
  HM_RETURN_IF_ERROR(UpdateDetailsInTransaction(type, repo, details));
  return transaction.Commit();
}

Status Registry::UpdateDetailsInTransaction(RepoType type, std::string_view repo,
                                            const RepoDetails& details) {
  int64_t repo_id = 0;
  bool head_described = false;
  {
    Statement s(*statements_,
                "SELECT r.id, EXISTS (SELECT 1 FROM refs f WHERE f.repo_id = r.id AND "
                "f.kind = 'branch' AND f.name = r.default_branch AND f.commit_id = ?3) "
                "FROM repos r WHERE r.type = ?1 AND r.name_lower = ?2");
    s.Bind(1, RepoTypeName(type)).Bind(2, AsciiLower(repo)).Bind(3, details.commit.id);
    if (!s.Step()) return s.status();
    repo_id = s.Int(0);
    head_described = s.Int(1) != 0;
  }
  {
    // Zero and empty values are what an upstream that does not say leaves: they keep the
    // mirror's own.
    Statement s(*statements_,
                "UPDATE repos SET object_id = COALESCE(NULLIF(?2, ''), object_id), "
                "author = COALESCE(NULLIF(?3, ''), author), gated = ?4, private = ?5, "
                "disabled = ?6, created_at = COALESCE(NULLIF(?7, 0), created_at), "
                "last_modified = COALESCE(NULLIF(?8, 0), last_modified), downloads = ?9, "
                "likes = ?10 WHERE id = ?1");
    s.Bind(1, repo_id).Bind(2, details.object_id).Bind(3, details.author).Bind(4, details.gated);
    s.Bind(5, details.is_private ? 1 : 0).Bind(6, details.disabled ? 1 : 0);
    s.Bind(7, details.created_at_ms).Bind(8, details.last_modified_ms);
    s.Bind(9, details.downloads).Bind(10, details.likes);
    HM_RETURN_IF_ERROR(s.Run());
  }
  const Commit& c = details.commit;
  if (c.id.empty()) return Status::Ok();
  {
    Statement s(*statements_,
                "UPDATE commits SET card_data = ?3, tags = ?4, pipeline_tag = ?5, "
                "library_name = ?6, config = ?7, safetensors = ?8 WHERE repo_id = ?1 AND id = ?2");
    s.Bind(1, repo_id).Bind(2, c.id).BindNullIfEmpty(3, c.card_data_json);
    s.Bind(4, CompactJson(c.tags));
    s.Bind(5, c.pipeline_tag).Bind(6, c.library_name);
    s.BindNullIfEmpty(7, c.config_json).BindNullIfEmpty(8, c.safetensors_json);
    HM_RETURN_IF_ERROR(s.Run());
  }
  if (!head_described) return Status::Ok();
  return WriteRepoCard(repo_id, c);
}

Status Registry::WriteRepoCard(int64_t repo_id, const Commit& commit) {
  {
    Statement s(*statements_,
                "UPDATE repos SET card_data = ?, pipeline_tag = ?, library_name = ? WHERE id = ?");
    s.BindNullIfEmpty(1, commit.card_data_json);
    s.Bind(2, commit.pipeline_tag).Bind(3, commit.library_name).Bind(4, repo_id);
    HM_RETURN_IF_ERROR(s.Run());
  }
  Statement clear(*statements_, "DELETE FROM repo_tags WHERE repo_id = ?");
  clear.Bind(1, repo_id);
  HM_RETURN_IF_ERROR(clear.Run());
  int64_t position = 0;
  Statement s(*statements_,
              "INSERT INTO repo_tags (repo_id, position, tag) VALUES (?, ?, ?) "
              "ON CONFLICT DO NOTHING");
  for (const auto& tag : commit.tags) {
    s.Reset();
    s.Bind(1, repo_id).Bind(2, position++).Bind(3, tag);
    HM_RETURN_IF_ERROR(s.Run());
  }
  return Status::Ok();
}

}  // namespace hubmirror::registry
