// Access to repos: the operator's visibility and gating settings, users' access requests and
// grants, and the checks that read them.
#include "common/clock.h"
#include "registry/registry.h"
#include "registry/sqlite.h"

namespace hubmirror::registry {
namespace {

bool IsGatedValue(std::string_view gated) {
  return gated == "false" || gated == "auto" || gated == "manual";
}

// What a decision changes in a request that exists.
constexpr const char* kDecide =
    "ON CONFLICT (repo_id, user_id) DO UPDATE SET status = excluded.status, "
    "decided_at = excluded.decided_at, decided_by = excluded.decided_by";

constexpr const char* kRequestSelect =
    "SELECT u.name, a.status, a.requested_at, a.decided_at, a.decided_by, a.terms, a.reason "
    "FROM access_requests a JOIN users u ON u.id = a.user_id ";

AccessRequest ReadRequest(const Statement& s) {
  AccessRequest request;
  request.user = s.Text(0);
  ParseAccessStatus(s.Text(1), &request.status);
  request.requested_at_ms = s.Int(2);
  request.decided_at_ms = s.Int(3);
  request.decided_by = s.Text(4);
  request.terms = s.Text(5);
  request.reason = s.Text(6);
  return request;
}

}  // namespace

Result<RepoAccessSettings> Registry::AccessSettings(RepoType type, std::string_view repo) {
  auto found = FindRepo(type, repo);
  if (!found.ok()) return found.status();
  Statement s(*statements_, "SELECT private_setting, gated_setting FROM repos WHERE id = ?");
  s.Bind(1, found->id);
  RepoAccessSettings settings;
  if (s.Step()) {
    if (!s.IsNull(0)) settings.is_private = s.Int(0) != 0;
    if (!s.IsNull(1)) settings.gated = s.Text(1);
  }
  HM_RETURN_IF_ERROR(s.status());
  return settings;
}

Status Registry::SetAccessSettings(RepoType type, std::string_view repo,
                                   const RepoAccessSettings& settings) {
  if (settings.gated && !IsGatedValue(*settings.gated)) {
    return InvalidArgument("gated is one of false, auto, manual, not '" +
                           settings.gated->substr(0, 64) + "'");
  }
  auto found = FindRepo(type, repo);
  if (!found.ok()) return found.status();
  // The upstream's own flags stay in their columns, which syncs refresh: a setting overrides them
  // without being undone by the next sync.
  Statement s(*statements_,
              "UPDATE repos SET private_setting = COALESCE(?2, private_setting), "
              "gated_setting = COALESCE(?3, gated_setting) WHERE id = ?1");
  s.Bind(1, found->id);
  if (settings.is_private) s.Bind(2, *settings.is_private ? 1 : 0);
  if (settings.gated) s.Bind(3, *settings.gated);
  return s.Run();
}

Status Registry::WriteAccess(RepoType type, std::string_view repo, std::string_view user,
                             const std::function<Status(int64_t, int64_t)>& write) {
  WriteTransaction transaction(db_);
  HM_RETURN_IF_ERROR(transaction.Begin());
  auto found = FindRepo(type, repo);
  if (!found.ok()) return found.status();
  auto user_id = UserId(user);
  if (!user_id.ok()) return user_id.status();
  HM_RETURN_IF_ERROR(write(found->id, *user_id));
  return transaction.Commit();
}

Result<AccessRequest> Registry::RequestAccess(RepoType type, std::string_view repo,
                                              std::string_view user, const std::string& terms,
                                              bool accept) {
  AccessRequest request;
  HM_RETURN_IF_ERROR(WriteAccess(type, repo, user, [&](int64_t repo_id, int64_t user_id) {
    {
      // A pending request is accepted when asked again once the repo grants access by itself; a
      // decided one stays as it is.
      Statement s(*statements_,
                  "INSERT INTO access_requests (repo_id, user_id, status, requested_at, "
                  "decided_at, decided_by, terms) VALUES (?1, ?2, CASE WHEN ?3 THEN 'accepted' "
                  "ELSE 'pending' END, ?4, CASE WHEN ?3 THEN ?4 END, "
                  "CASE WHEN ?3 THEN 'hubmirror' END, ?5) " +
                      std::string(kDecide) +
                      ", terms = excluded.terms WHERE status = 'pending' AND ?3");
      s.Bind(1, repo_id).Bind(2, user_id).Bind(3, accept ? 1 : 0).Bind(4, NowUnixMillis());
      s.Bind(5, terms);
      HM_RETURN_IF_ERROR(s.Run());
    }
    Statement s(*statements_,
                std::string(kRequestSelect) + "WHERE a.repo_id = ? AND a.user_id = ?");
    s.Bind(1, repo_id).Bind(2, user_id);
    if (!s.Step()) return s.status().ok() ? Internal("access request row vanished") : s.status();
    request = ReadRequest(s);
    return Status::Ok();
  }));
  return request;
}

Status Registry::DecideAccess(RepoType type, std::string_view repo, std::string_view user,
                              AccessStatus status, const std::string& decided_by,
                              const std::string& reason) {
  if (status == AccessStatus::kPending) {
    return InvalidArgument("an access decision accepts or rejects");
  }
  return WriteAccess(type, repo, user, [&](int64_t repo_id, int64_t user_id) {
    Statement s(*statements_,
                "INSERT INTO access_requests (repo_id, user_id, status, requested_at, decided_at, "
                "decided_by, reason) VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6) " +
                    std::string(kDecide) + ", reason = excluded.reason");
    s.Bind(1, repo_id).Bind(2, user_id).Bind(3, AccessStatusName(status));
    s.Bind(4, NowUnixMillis()).Bind(5, decided_by).Bind(6, reason);
    return s.Run();
  });
}

Status Registry::RemoveAccess(RepoType type, std::string_view repo, std::string_view user) {
  return WriteAccess(type, repo, user, [&](int64_t repo_id, int64_t user_id) {
    Statement s(*statements_, "DELETE FROM access_requests WHERE repo_id = ? AND user_id = ?");
    s.Bind(1, repo_id).Bind(2, user_id);
    HM_RETURN_IF_ERROR(s.Run());
    if (sqlite3_changes(db_) == 0) {
      return NotFound("user '" + std::string(user) + "' has no access request for " +
                      std::string(repo));
    }
    return Status::Ok();
  });
}

Result<std::vector<AccessRequest>> Registry::ListAccessRequests(
    RepoType type, std::string_view repo, std::optional<AccessStatus> status) {
  auto found = FindRepo(type, repo);
  if (!found.ok()) return found.status();
  Statement s(*statements_, std::string(kRequestSelect) +
                                "WHERE a.repo_id = ?1 AND (?2 = '' OR a.status = ?2) "
                                "ORDER BY a.requested_at, u.name_lower");
  s.Bind(1, found->id).Bind(2, status ? AccessStatusName(*status) : "");
  std::vector<AccessRequest> requests;
  while (s.Step()) requests.push_back(ReadRequest(s));
  HM_RETURN_IF_ERROR(s.status());
  return requests;
}

Result<bool> Registry::HasAccess(const Repo& repo, int64_t user_id) {
  if (user_id == 0) return false;
  return access_.Get(
      std::to_string(repo.id) + ":" + std::to_string(user_id), [&]() -> Result<bool> {
        Statement s(*statements_,
                    "SELECT 1 FROM access_requests WHERE repo_id = ? AND user_id = ? "
                    "AND status = 'accepted'");
        s.Bind(1, repo.id).Bind(2, user_id);
        bool accepted = s.Step();
        HM_RETURN_IF_ERROR(s.status());
        return accepted;
      });
}

Result<std::vector<std::string>> Registry::PrivateModelIds() {
  // The condition is the one of the partial index repos_private, which the query then reads.
  Statement s(*statements_,
              "SELECT name_lower FROM repos WHERE type = 'model' AND "
              "COALESCE(private_setting, private) != 0 ORDER BY name_lower");
  std::vector<std::string> ids;
  while (s.Step()) ids.push_back(s.Text(0));
  HM_RETURN_IF_ERROR(s.status());
  return ids;
}

}  // namespace hubmirror::registry
