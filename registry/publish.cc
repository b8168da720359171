// Publishing revisions: everything an import, a sync or a bundle makes visible at once.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/digest.h"
#include "common/json_text.h"
#include "registry/registry.h"
#include "registry/sqlite.h"

namespace hubmirror::registry {
namespace {

// The Hub's `_id` is a 24-hex Mongo ObjectId whose first 4 bytes are the creation time; keep
// that property and make the rest a stable function of the repo's identity.
std::string MakeObjectId(RepoType type, std::string_view name_lower, int64_t created_ms) {
  char time_hex[9];
  std::snprintf(time_hex, sizeof time_hex, "%08x", static_cast<unsigned>(created_ms / 1000));
  return std::string(time_hex) +
         Sha1Hex(std::string(RepoTypeName(type)) + "/" + std::string(name_lower)).substr(0, 16);
}

}  // namespace

Result<bool> Registry::PublishRevision(const NewRevision& revision) {
  WriteTransaction transaction(db_);
  HM_RETURN_IF_ERROR(transaction.Begin());
  auto published = PublishInTransaction(revision);
  if (!published.ok()) return published.status();
  HM_RETURN_IF_ERROR(transaction.Commit());
  return *published;
}

Result<size_t> Registry::PublishRevisions(const std::vector<NewRevision>& revisions) {
  WriteTransaction transaction(db_);
  HM_RETURN_IF_ERROR(transaction.Begin());
  size_t changed = 0;
  for (const auto& revision : revisions) {
    auto published = PublishInTransaction(revision);
    if (!published.ok()) return published.status();
    changed += *published ? 1 : 0;
  }
  HM_RETURN_IF_ERROR(transaction.Commit());
  return changed;
}

Result<bool> Registry::PublishInTransaction(const NewRevision& rev) {
  const std::string name_lower = AsciiLower(rev.repo_name);
  const std::string author = rev.repo_name.substr(0, rev.repo_name.find('/'));
  const int64_t now = NowUnixMillis();
  const bool moves_branch = rev.ref && rev.ref->kind == RefKind::kBranch;
  {
    Statement s(*statements_,
                "INSERT INTO repos (type, name, name_lower, author, object_id, default_branch, "
                "created_at, last_modified) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (type, name_lower) DO NOTHING");
    s.Bind(1, RepoTypeName(rev.type)).Bind(2, rev.repo_name).Bind(3, name_lower).Bind(4, author);
    s.Bind(5, MakeObjectId(rev.type, name_lower, now))
        .Bind(6, !rev.default_branch.empty() ? rev.default_branch
                 : moves_branch              ? rev.ref->name
                                             : "main")
        .Bind(7, now)
        .Bind(8, now);
    HM_RETURN_IF_ERROR(s.Run());
  }
  if (rev.private_if_created && sqlite3_changes(db_) > 0) {
    Statement s(*statements_,
                "UPDATE repos SET private_setting = 1 WHERE type = ? AND name_lower = ?");
    s.Bind(1, RepoTypeName(rev.type)).Bind(2, name_lower);
    HM_RETURN_IF_ERROR(s.Run());
  }
  int64_t repo_id = 0;
  bool default_branch = false;
  {
    Statement s(*statements_,
                "SELECT id, default_branch FROM repos WHERE type = ? AND name_lower = ?");
    s.Bind(1, RepoTypeName(rev.type)).Bind(2, name_lower);
    if (!s.Step()) return s.status().ok() ? Internal("repo row vanished") : s.status();
    repo_id = s.Int(0);
    default_branch = moves_branch && s.Text(1) == rev.ref->name;
  }
  for (const auto& tag : rev.tags) {
    Statement s(*statements_,
                "SELECT commit_id FROM refs WHERE repo_id = ? AND kind = 'tag' AND name = ?");
    s.Bind(1, repo_id).Bind(2, tag);
    if (s.Step() && s.Text(0) != rev.commit.id) {
      return Status(StatusCode::kAlreadyExists, std::string(RepoTypeName(rev.type)) + " " +
                                                    rev.repo_name + ": tag " + tag +
                                                    " already points at " + s.Text(0));
    }
    HM_RETURN_IF_ERROR(s.status());
  }
  bool unchanged = false;
  if (rev.ref) {
    Statement s(*statements_,
                "SELECT commit_id FROM refs WHERE repo_id = ? AND kind = ? AND name = ?");
    s.Bind(1, repo_id).Bind(2, RefKindName(rev.ref->kind)).Bind(3, RefRevision(*rev.ref));
    std::string head = s.Step() ? s.Text(0) : "";
    HM_RETURN_IF_ERROR(s.status());
    if (rev.expected_head && *rev.expected_head != head) {
      return Status(StatusCode::kFailedPrecondition,
                    std::string(RepoTypeName(rev.type)) + " " + rev.repo_name + ": " +
                        RefRevision(*rev.ref) + " moved to " + (head.empty() ? "nothing" : head) +
                        " meanwhile");
    }
    unchanged = head == rev.commit.id;
  } else {  // a commit without a ref: unchanged when already stored
    Statement s(*statements_, "SELECT 1 FROM commits WHERE repo_id = ? AND id = ?");
    s.Bind(1, repo_id).Bind(2, rev.commit.id);
    unchanged = s.Step();
    HM_RETURN_IF_ERROR(s.status());
  }
  {
    Statement s(*statements_,
                "INSERT INTO blobs (sha256, size, git_sha1, state) VALUES (?, ?, ?, ?) "
                // Content stored again (a repair) was verified on the way in; content merely
                // declared (absent) leaves a row that exists as it is.
                "ON CONFLICT (sha256) DO UPDATE SET "
                "state = CASE WHEN excluded.state = 'ok' THEN 'ok' ELSE blobs.state END, "
                "git_sha1 = "
                "CASE WHEN excluded.git_sha1 != '' THEN excluded.git_sha1 ELSE blobs.git_sha1 END");
    for (const auto& blob : rev.blobs) {
      s.Reset();
      s.Bind(1, blob.sha256).Bind(2, static_cast<int64_t>(blob.size)).Bind(3, blob.git_sha1);
      s.Bind(4, BlobStateName(blob.state));
      HM_RETURN_IF_ERROR(s.Run());
    }
  }
  HM_RETURN_IF_ERROR(WriteTags(repo_id, rev.tags, rev.commit.id));
  if (!unchanged) {
    Statement s(*statements_,
                "INSERT INTO commits (repo_id, id, parent_id, tree_id, title, message, author, "
                "date, card_data, tags, pipeline_tag, library_name, config, safetensors, "
                "recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING");
    const Commit& c = rev.commit;
    s.Bind(1, repo_id).Bind(2, c.id).BindNullIfEmpty(3, c.parent_id);
    s.Bind(4, c.tree_id).Bind(5, c.title).Bind(6, c.message).Bind(7, c.author).Bind(8, c.date_ms);
    s.BindNullIfEmpty(9, c.card_data_json);
    s.Bind(10, CompactJson(c.tags));
    s.Bind(11, c.pipeline_tag).Bind(12, c.library_name);
    s.BindNullIfEmpty(13, c.config_json).BindNullIfEmpty(14, c.safetensors_json);
    s.Bind(15, now);
    HM_RETURN_IF_ERROR(s.Run());
  }
  {
    // A commit recorded before its content was stored (pull-through) learns the digests of its
    // git-stored files when a sync stores them.
    Statement s(*statements_,
                "INSERT INTO entries (repo_id, commit_id, path, type, size, git_oid, sha256, lfs, "
                "pointer_size, last_commit_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (repo_id, commit_id, path) DO UPDATE SET sha256 = excluded.sha256 "
                "WHERE entries.sha256 IS NULL AND excluded.sha256 IS NOT NULL");
    for (const auto& e : rev.entries) {
      s.Reset();
      s.Bind(1, repo_id).Bind(2, rev.commit.id).Bind(3, e.path);
      s.Bind(4, e.is_directory ? "directory" : "file").Bind(5, static_cast<int64_t>(e.size));
      s.Bind(6, e.git_oid).BindNullIfEmpty(7, e.sha256);
      s.Bind(8, e.lfs ? 1 : 0).Bind(9, static_cast<int64_t>(e.pointer_size));
      s.Bind(10, e.last_commit_id);
      HM_RETURN_IF_ERROR(s.Run());
    }
  }
  if (unchanged) return false;  // only content stored again (repaired, or filled) to record
  if (rev.ref) {
    Statement s(*statements_,
                "INSERT INTO refs (repo_id, kind, name, commit_id) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (repo_id, kind, name) DO UPDATE SET commit_id = excluded.commit_id");
    s.Bind(1, repo_id).Bind(2, RefKindName(rev.ref->kind)).Bind(3, RefRevision(*rev.ref));
    s.Bind(4, rev.commit.id);
    HM_RETURN_IF_ERROR(s.Run());
  }
  // The default branch's card is the repo's: what listings filter on and what lineage records.
  if (default_branch) {
    {
      Statement s(*statements_, "UPDATE repos SET last_modified = ? WHERE id = ?");
      s.Bind(1, rev.commit.date_ms).Bind(2, repo_id);
      HM_RETURN_IF_ERROR(s.Run());
    }
    HM_RETURN_IF_ERROR(WriteRepoCard(repo_id, rev.commit));
    {
      Statement clear(*statements_,
                      "DELETE FROM lineage_edges WHERE child_lower = ? AND "
                      "source IN ('card', 'baseModels')");
      clear.Bind(1, name_lower);
      HM_RETURN_IF_ERROR(clear.Run());
    }
    HM_RETURN_IF_ERROR(UpsertLineageEdges(rev.lineage));
  }
  return true;
}

Status Registry::WriteTags(int64_t repo_id, const std::vector<std::string>& tags,
                           const std::string& commit_id) {
  Statement s(*statements_,
              "INSERT INTO refs (repo_id, kind, name, commit_id) VALUES (?, 'tag', ?, ?) "
              "ON CONFLICT (repo_id, kind, name) DO NOTHING");
  for (const auto& tag : tags) {
    s.Reset();
    s.Bind(1, repo_id).Bind(2, tag).Bind(3, commit_id);
    HM_RETURN_IF_ERROR(s.Run());
  }
  return Status::Ok();
}

}  // namespace hubmirror::registry
