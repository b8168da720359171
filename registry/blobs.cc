// Files and blobs: what content the registry knows, its state, and who uses it.
#include <nlohmann/json.hpp>

#include "common/json_text.h"
#include "registry/registry.h"
#include "registry/sqlite.h"

namespace hubmirror::registry {
namespace {

// Lists are bound as one JSON array and read back with json_each: one parameter whatever their
// length, where one parameter per item would meet SQLite's limit on bound parameters.
std::string JsonArray(const nlohmann::json& items) { return CompactJson(items); }

}  // namespace

std::string_view BlobStateName(BlobState state) {
  switch (state) {
    case BlobState::kOk:
      return "ok";
    case BlobState::kCorrupt:
      return "corrupt";
    case BlobState::kMissing:
      return "missing";
    case BlobState::kAbsent:
      return "absent";
  }
  return "missing";
}

bool ParseBlobState(std::string_view text, BlobState* state) {
  for (BlobState candidate :
       {BlobState::kOk, BlobState::kCorrupt, BlobState::kMissing, BlobState::kAbsent}) {
    if (text == BlobStateName(candidate)) {
      *state = candidate;
      return true;
    }
  }
  return false;
}

Result<std::optional<BlobRow>> Registry::FindBlob(const std::string& sha256) {
  auto found = FindBlobs({sha256});
  if (!found.ok()) return found.status();
  auto row = found->find(sha256);
  if (row == found->end()) return std::optional<BlobRow>();
  return std::optional<BlobRow>(std::move(row->second));
}

Result<std::map<std::string, BlobRow>> Registry::FindBlobs(
    const std::vector<std::string>& sha256s) {
  Statement s(*statements_,
              "SELECT b.sha256, b.size, b.git_sha1 FROM json_each(?) j "
              "JOIN blobs b ON b.sha256 = j.value WHERE b.state = 'ok'");
  s.Bind(1, JsonArray(sha256s));
  std::map<std::string, BlobRow> rows;
  while (s.Step()) {
    std::string sha256 = s.Text(0);
    rows.try_emplace(sha256, BlobRow{sha256, static_cast<uint64_t>(s.Int(1)), s.Text(2)});
  }
  HM_RETURN_IF_ERROR(s.status());
  return rows;
}

Result<std::optional<std::string>> Registry::FindBlobByGitSha1(const std::string& git_sha1,
                                                               uint64_t size) {
  auto found = FindBlobsByGitSha1({{git_sha1, size}});
  if (!found.ok()) return found.status();
  if (found->empty()) return std::optional<std::string>();
  return std::optional<std::string>(std::move(found->begin()->second));
}

Result<std::map<std::pair<std::string, uint64_t>, std::string>> Registry::FindBlobsByGitSha1(
    const std::vector<std::pair<std::string, uint64_t>>& git_sha1_and_size) {
  nlohmann::json pairs = nlohmann::json::array();
  for (const auto& [git_sha1, size] : git_sha1_and_size) pairs.push_back({git_sha1, size});
  // j.key is the pair's position in the request.
  Statement s(*statements_,
              "SELECT j.key, b.sha256 FROM json_each(?) j JOIN blobs b "
              "ON b.git_sha1 = json_extract(j.value, '$[0]') AND "
              "b.size = json_extract(j.value, '$[1]') WHERE b.state = 'ok'");
  s.Bind(1, JsonArray(pairs));
  std::map<std::pair<std::string, uint64_t>, std::string> found;
  while (s.Step()) {
    auto index = static_cast<size_t>(s.Int(0));
    if (index < git_sha1_and_size.size()) found.try_emplace(git_sha1_and_size[index], s.Text(1));
  }
  HM_RETURN_IF_ERROR(s.status());
  return found;
}

Result<std::vector<BlobRecord>> Registry::ListBlobs(std::optional<RepoType> type,
                                                    std::string_view repo) {
  bool one_repo = type.has_value();
  Statement s(*statements_,
              one_repo
                  ? "SELECT b.sha256, b.size, b.git_sha1, b.state, MAX(e.lfs = 0) FROM repos r "
                    "JOIN entries e ON e.repo_id = r.id JOIN blobs b ON b.sha256 = e.sha256 "
                    "WHERE r.type = ? AND r.name_lower = ? AND b.state != 'absent' "
                    "GROUP BY b.sha256 "
                    "ORDER BY b.sha256"
                  : "SELECT b.sha256, b.size, b.git_sha1, b.state, g.sha256 IS NOT NULL "
                    "FROM blobs b LEFT JOIN (SELECT DISTINCT sha256 FROM entries "
                    "WHERE type = 'file' AND lfs = 0) g ON g.sha256 = b.sha256 "
                    "WHERE b.state != 'absent' ORDER BY b.sha256");
  if (one_repo) s.Bind(1, RepoTypeName(*type)).Bind(2, AsciiLower(repo));
  std::vector<BlobRecord> blobs;
  while (s.Step()) {
    BlobRecord blob{s.Text(0), static_cast<uint64_t>(s.Int(1)), s.Text(2), BlobState::kOk,
                    s.Int(4) != 0};
    ParseBlobState(s.Text(3), &blob.state);  // the schema allows no other state
    blobs.push_back(std::move(blob));
  }
  if (!s.status().ok()) return s.status();
  return blobs;
}

Result<std::vector<std::pair<BlobUse, std::string>>> Registry::InconsistentFiles(
    std::optional<RepoType> type, std::string_view repo) {
  Statement s(*statements_,
              std::string("SELECT r.type, r.name, e.commit_id, e.path, e.size, e.sha256, b.size "
                          "FROM entries e JOIN repos r ON r.id = e.repo_id "
                          "LEFT JOIN blobs b ON b.sha256 = e.sha256 WHERE e.type = 'file' AND "
                          "e.sha256 IS NOT NULL AND (b.sha256 IS NULL OR b.size != e.size)") +
                  (type ? " AND r.type = ? AND r.name_lower = ?" : "") +
                  " ORDER BY r.name_lower, e.commit_id, e.path");
  if (type) s.Bind(1, RepoTypeName(*type)).Bind(2, AsciiLower(repo));
  std::vector<std::pair<BlobUse, std::string>> files;
  while (s.Step()) {
    RepoType file_type = RepoType::kModel;
    ParseRepoType(s.Text(0), &file_type);
    std::string problem = s.IsNull(6)
                              ? "no blob row for sha256 " + s.Text(5)
                              : "file is " + std::to_string(s.Int(4)) + " bytes, its blob " +
                                    s.Text(5) + " is " + std::to_string(s.Int(6));
    files.emplace_back(BlobUse{file_type, s.Text(1), s.Text(2), s.Text(3)}, std::move(problem));
  }
  if (!s.status().ok()) return s.status();
  return files;
}

Result<std::vector<BlobUse>> Registry::BlobUses(std::string_view sha256, size_t limit) {
  Statement s(*statements_,
              "SELECT r.type, r.name, e.commit_id, e.path FROM entries e "
              "JOIN repos r ON r.id = e.repo_id WHERE e.sha256 = ? "
              "ORDER BY r.name_lower, e.path, e.commit_id LIMIT ?");
  s.Bind(1, sha256).Bind(2, static_cast<int64_t>(limit));
  std::vector<BlobUse> uses;
  while (s.Step()) {
    RepoType type = RepoType::kModel;
    ParseRepoType(s.Text(0), &type);
    uses.push_back(BlobUse{type, s.Text(1), s.Text(2), s.Text(3)});
  }
  if (!s.status().ok()) return s.status();
  return uses;
}

Result<Registry::BlobTotals> Registry::StoredBlobTotals() {
  Statement s(*statements_,
              "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM blobs WHERE state = 'ok'");
  if (!s.Step()) return s.status().ok() ? Internal("no totals row") : s.status();
  return BlobTotals{static_cast<uint64_t>(s.Int(0)), static_cast<uint64_t>(s.Int(1))};
}

Result<std::map<BlobState, Registry::BlobTotals>> Registry::BlobTotalsByState() {
  std::map<BlobState, BlobTotals> totals;
  for (BlobState state :
       {BlobState::kOk, BlobState::kCorrupt, BlobState::kMissing, BlobState::kAbsent}) {
    totals[state] = {};
  }
  Statement s(*statements_,
              "SELECT state, COUNT(*), COALESCE(SUM(size), 0) FROM blobs GROUP BY state");
  while (s.Step()) {
    BlobState state = BlobState::kOk;
    if (!ParseBlobState(s.Text(0), &state)) continue;
    totals[state] = {static_cast<uint64_t>(s.Int(1)), static_cast<uint64_t>(s.Int(2))};
  }
  if (!s.status().ok()) return s.status();
  return totals;
}

Result<std::vector<BlobRecord>> Registry::DamagedBlobs(size_t limit) {
  Statement s(*statements_,
              "SELECT sha256, size, git_sha1, state FROM blobs "
              "WHERE state IN ('corrupt', 'missing') ORDER BY sha256 LIMIT ?");
  s.Bind(1, static_cast<int64_t>(limit));
  std::vector<BlobRecord> blobs;
  while (s.Step()) {
    BlobRecord blob{s.Text(0), static_cast<uint64_t>(s.Int(1)), s.Text(2), BlobState::kOk, false};
    ParseBlobState(s.Text(3), &blob.state);
    blobs.push_back(std::move(blob));
  }
  if (!s.status().ok()) return s.status();
  return blobs;
}

Status Registry::ForEachRepoBlob(
    const std::function<void(RepoType type, const std::string& repo, const std::string& sha256,
                             uint64_t size)>& use) {
  Statement s(*statements_,
              "SELECT r.type, r.name, b.sha256, b.size FROM repos r JOIN entries e "
              "ON e.repo_id = r.id JOIN blobs b ON b.sha256 = e.sha256 WHERE b.state = 'ok' "
              "GROUP BY r.id, b.sha256 ORDER BY r.id");
  while (s.Step()) {
    RepoType type = RepoType::kModel;
    ParseRepoType(s.Text(0), &type);
    use(type, s.Text(1), s.Text(2), static_cast<uint64_t>(s.Int(3)));
  }
  return s.status();
}

Status Registry::ForgetBlobs(const std::vector<std::string>& sha256s) {
  WriteTransaction transaction(db_);
  HM_RETURN_IF_ERROR(transaction.Begin());
  Statement s(*statements_,
              "DELETE FROM blobs WHERE sha256 IN (SELECT value FROM json_each(?)) AND NOT EXISTS "
              "(SELECT 1 FROM entries e WHERE e.sha256 = blobs.sha256)");
  s.Bind(1, JsonArray(sha256s));
  HM_RETURN_IF_ERROR(s.Run());
  return transaction.Commit();
}

Status Registry::RecordFilledContent(const FilledContent& filled) {
  WriteTransaction transaction(db_);
  HM_RETURN_IF_ERROR(transaction.Begin());
  {
    Statement s(*statements_,
                "INSERT INTO blobs (sha256, size, git_sha1) VALUES (?, ?, ?) "
                "ON CONFLICT (sha256) DO UPDATE SET state = 'ok', git_sha1 = "
                "CASE WHEN excluded.git_sha1 != '' THEN excluded.git_sha1 ELSE blobs.git_sha1 END");
    s.Bind(1, filled.blob.sha256).Bind(2, static_cast<int64_t>(filled.blob.size));
    s.Bind(3, filled.blob.git_sha1);
    HM_RETURN_IF_ERROR(s.Run());
  }
  {
    Statement s(*statements_,
                "UPDATE entries SET sha256 = ? WHERE sha256 IS NULL AND commit_id = ? AND "
                "path = ? AND repo_id = (SELECT id FROM repos WHERE type = ? AND name_lower = ?)");
    s.Bind(1, filled.blob.sha256).Bind(2, filled.commit_id).Bind(3, filled.path);
    s.Bind(4, RepoTypeName(filled.type)).Bind(5, AsciiLower(filled.repo));
    HM_RETURN_IF_ERROR(s.Run());
  }
  return transaction.Commit();
}

Status Registry::SetBlobStates(const std::vector<std::pair<std::string, BlobState>>& states) {
  WriteTransaction transaction(db_);
  HM_RETURN_IF_ERROR(transaction.Begin());
  Statement s(*statements_, "UPDATE blobs SET state = ? WHERE sha256 = ?");
  for (const auto& [sha256, state] : states) {
    s.Reset();
    s.Bind(1, BlobStateName(state)).Bind(2, sha256);
    HM_RETURN_IF_ERROR(s.Run());
  }
  return transaction.Commit();
}

Status Registry::ForEachLiveDigest(const std::function<void(const std::string& sha256)>& digest) {
  Statement s(*statements_,
              "SELECT DISTINCT sha256 FROM entries WHERE type = 'file' AND sha256 IS NOT NULL");
  while (s.Step()) digest(s.Text(0));
  return s.status();
}

}  // namespace hubmirror::registry
