// The storage budget: which content may be evicted, and evicting it.
#include <nlohmann/json.hpp>

#include "common/json_text.h"
#include "registry/registry.h"
#include "registry/sqlite.h"

namespace hubmirror::registry {
namespace {

// Repos whose content the budget never evicts: pinned ones, and those anything but pull-through
// put here (a mirror rule or `hubmirror sync`, an import, a bundle).
constexpr const char* kKeptRepos =
    "SELECT r.id FROM repos r WHERE r.pinned != 0 OR NOT EXISTS (SELECT 1 FROM sync_state s "
    "WHERE s.type = r.type AND s.repo_lower = r.name_lower) OR EXISTS (SELECT 1 FROM sync_state "
    "s WHERE s.type = r.type AND s.repo_lower = r.name_lower AND s.source != 'pull-through')";

}  // namespace

Status Registry::SetPinned(RepoType type, std::string_view repo, bool pinned) {
  Statement s(*statements_, "UPDATE repos SET pinned = ? WHERE type = ? AND name_lower = ?");
  s.Bind(1, pinned ? 1 : 0).Bind(2, RepoTypeName(type)).Bind(3, AsciiLower(repo));
  HM_RETURN_IF_ERROR(s.Run());
  if (sqlite3_changes(db_) == 0) {
    return Status(StatusCode::kRepoNotFound,
                  std::string(RepoTypeName(type)) + " " + std::string(repo) + " not found");
  }
  return Status::Ok();
}

Result<bool> Registry::Pinned(RepoType type, std::string_view repo) {
  Statement s(*statements_, "SELECT pinned FROM repos WHERE type = ? AND name_lower = ?");
  s.Bind(1, RepoTypeName(type)).Bind(2, AsciiLower(repo));
  if (s.Step()) return s.Int(0) != 0;
  HM_RETURN_IF_ERROR(s.status());
  return Status(StatusCode::kRepoNotFound,
                std::string(RepoTypeName(type)) + " " + std::string(repo) + " not found");
}

Status Registry::RecordRepoUses(const std::vector<RepoUse>& uses) {
  WriteTransaction transaction(db_);
  HM_RETURN_IF_ERROR(transaction.Begin());
  Statement s(*statements_,
              "UPDATE repos SET last_used_at = MAX(last_used_at, ?) WHERE type = ? AND "
              "name_lower = ?");
  for (const auto& use : uses) {
    s.Reset();
    s.Bind(1, use.at_ms).Bind(2, RepoTypeName(use.type)).Bind(3, AsciiLower(use.repo));
    HM_RETURN_IF_ERROR(s.Run());
  }
  return transaction.Commit();
}

Result<std::vector<RepoUse>> Registry::EvictionOrder() {
  Statement s(
      *statements_,
      std::string("SELECT r.type, r.name, r.last_used_at FROM repos r WHERE r.id NOT IN (") +
          kKeptRepos + ") ORDER BY r.last_used_at, r.name_lower");
  std::vector<RepoUse> order;
  while (s.Step()) {
    RepoUse use;
    ParseRepoType(s.Text(0), &use.type);
    use.repo = s.Text(1);
    use.at_ms = s.Int(2);
    order.push_back(std::move(use));
  }
  HM_RETURN_IF_ERROR(s.status());
  return order;
}

Result<std::vector<BlobRow>> Registry::EvictableBlobs(RepoType type, std::string_view repo) {
  Statement s(*statements_,
              std::string("SELECT DISTINCT b.sha256, b.size, b.git_sha1 FROM repos r "
                          "JOIN entries e ON e.repo_id = r.id JOIN blobs b ON b.sha256 = e.sha256 "
                          "WHERE r.type = ? AND r.name_lower = ? AND b.state = 'ok' AND NOT EXISTS "
                          "(SELECT 1 FROM entries k WHERE k.sha256 = b.sha256 AND k.repo_id IN (") +
                  kKeptRepos + "))");
  s.Bind(1, RepoTypeName(type)).Bind(2, AsciiLower(repo));
  std::vector<BlobRow> blobs;
  while (s.Step()) {
    blobs.push_back({s.Text(0), static_cast<uint64_t>(s.Int(1)), s.Text(2)});
  }
  HM_RETURN_IF_ERROR(s.status());
  return blobs;
}

Result<uint64_t> Registry::KeptBytes() {
  Statement s(*statements_,
              std::string("SELECT COALESCE(SUM(b.size), 0) FROM blobs b WHERE b.state = 'ok' AND "
                          "EXISTS (SELECT 1 FROM entries k WHERE k.sha256 = b.sha256 AND "
                          "k.repo_id IN (") +
                  kKeptRepos + "))");
  if (!s.Step()) return s.status().ok() ? Internal("no sum row") : s.status();
  return static_cast<uint64_t>(s.Int(0));
}

Status Registry::MarkEvicted(const std::vector<std::string>& sha256s) {
  Statement s(*statements_,
              "UPDATE blobs SET state = 'absent' WHERE sha256 IN (SELECT value FROM json_each(?))");
  s.Bind(1, CompactJson(sha256s));
  return s.Run();
}

}  // namespace hubmirror::registry
