// Reads of repos, refs, commits and entries.
#include <nlohmann/json.hpp>

#include "common/digest.h"
#include "registry/registry.h"
#include "registry/sqlite.h"

namespace hubmirror::registry {
namespace {

std::string EscapeLike(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '%' || c == '_' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

// Smallest string greater than every string starting with `prefix`, for range scans on paths.
std::string PrefixUpperBound(std::string prefix) {
  prefix.back() = static_cast<char>(prefix.back() + 1);
  return prefix;
}

// What access checks need of a repo: its identity and the flags in force (the operator's
// settings, else the upstream's flags).
constexpr const char* kRepoAccessColumns =
    "r.id, r.type, r.name, r.author, COALESCE(r.private_setting, r.private), "
    "COALESCE(r.gated_setting, r.gated)";
constexpr int kRepoAccessColumnCount = 6;
constexpr const char* kRepoOtherColumns =
    "r.object_id, r.default_branch, r.created_at, r.last_modified, r.card_data, r.pipeline_tag, "
    "r.library_name, r.downloads, r.likes, r.disabled";

void ReadRepoAccess(const Statement& s, int first, Repo* repo) {
  repo->id = s.Int(first);
  ParseRepoType(s.Text(first + 1), &repo->type);
  repo->name = s.Text(first + 2);
  repo->author = s.Text(first + 3);
  repo->is_private = s.Int(first + 4) != 0;
  repo->gated = s.Text(first + 5);
}

// Entry columns, then the entry's commit id (read by ResolveFile), then `more` columns.
std::string EntrySelect(std::string_view more = "") {
  return "SELECT e.path, e.type, e.size, e.git_oid, e.sha256, e.lfs, e.pointer_size, "
         "e.last_commit_id, c.title, c.date, b.state, e.commit_id" +
         std::string(more) +
         " FROM entries e "
         "LEFT JOIN commits c ON c.repo_id = e.repo_id AND c.id = e.last_commit_id "
         "LEFT JOIN blobs b ON b.sha256 = e.sha256 ";
}
constexpr int kEntryColumnCount = 11;

Entry ReadEntryRow(const Statement& s) {
  Entry e;
  e.path = s.Text(0);
  e.is_directory = s.Text(1) == "directory";
  e.size = static_cast<uint64_t>(s.Int(2));
  e.git_oid = s.Text(3);
  e.sha256 = s.Text(4);
  e.lfs = s.Int(5) != 0;
  e.pointer_size = static_cast<uint64_t>(s.Int(6));
  e.last_commit_id = s.Text(7);
  e.last_commit_title = s.Text(8);
  e.last_commit_date_ms = s.Int(9);
  // A git-stored file whose content was never stored has no digest yet; any other file without
  // a blob row (see InconsistentFiles) has no content to serve.
  if (!e.is_directory && e.sha256.empty()) {
    e.blob_state = BlobState::kAbsent;
  } else if (!e.is_directory && !ParseBlobState(s.Text(10), &e.blob_state)) {
    e.blob_state = BlobState::kMissing;
  }
  return e;
}

constexpr const char* kCommitColumns =
    "c.id, c.parent_id, c.tree_id, c.title, c.message, c.author, c.date, c.card_data, c.tags, "
    "c.pipeline_tag, c.library_name, c.config, c.safetensors";

Commit ReadCommit(Statement& s) {
  Commit commit;
  commit.id = s.Text(0);
  commit.parent_id = s.Text(1);
  commit.tree_id = s.Text(2);
  commit.title = s.Text(3);
  commit.message = s.Text(4);
  commit.author = s.Text(5);
  commit.date_ms = s.Int(6);
  commit.card_data_json = s.Text(7);
  nlohmann::json tags = nlohmann::json::parse(s.Text(8), nullptr, false);
  if (tags.is_array()) {
    for (const auto& tag : tags) {
      if (tag.is_string()) commit.tags.push_back(tag.get<std::string>());
    }
  }
  commit.pipeline_tag = s.Text(9);
  commit.library_name = s.Text(10);
  commit.config_json = s.Text(11);
  commit.safetensors_json = s.Text(12);
  return commit;
}

// How the refs table is searched for a revision: the stored name, and the kind when the
// revision is a full ref name ("" for any kind; "HEAD" stays for the query to resolve).
struct RefLookup {
  std::string name;
  std::string kind;
};

RefLookup LookupOf(std::string_view revision) {
  auto full = ParseFullRefName(revision);
  if (!full) return {std::string(revision), ""};
  return {RefRevision(*full), std::string(RefKindName(full->kind))};
}

}  // namespace

Result<Repo> Registry::FindRepo(RepoType type, std::string_view name) {
  Statement s(*statements_, std::string("SELECT ") + kRepoAccessColumns + ", " + kRepoOtherColumns +
                                " FROM repos r WHERE r.type = ? AND r.name_lower = ?");
  s.Bind(1, RepoTypeName(type)).Bind(2, AsciiLower(name));
  if (!s.Step()) {
    if (!s.status().ok()) return s.status();
    return Status(StatusCode::kRepoNotFound, "Repository " + std::string(name) + " not found");
  }
  Repo repo;
  ReadRepoAccess(s, 0, &repo);
  const int first = kRepoAccessColumnCount;
  repo.object_id = s.Text(first);
  repo.default_branch = s.Text(first + 1);
  repo.created_at_ms = s.Int(first + 2);
  repo.last_modified_ms = s.Int(first + 3);
  repo.card_data_json = s.Text(first + 4);
  repo.pipeline_tag = s.Text(first + 5);
  repo.library_name = s.Text(first + 6);
  repo.downloads = s.Int(first + 7);
  repo.likes = s.Int(first + 8);
  repo.disabled = s.Int(first + 9) != 0;
  return repo;
}

Result<std::vector<std::string>> Registry::RepoTags(const Repo& repo) {
  Statement s(*statements_, "SELECT tag FROM repo_tags WHERE repo_id = ? ORDER BY position");
  s.Bind(1, repo.id);
  std::vector<std::string> tags;
  while (s.Step()) tags.push_back(s.Text(0));
  if (!s.status().ok()) return s.status();
  return tags;
}
Result<Commit> Registry::ResolveRevision(const Repo& repo, std::string_view revision) {
  RefLookup wanted =
      revision == "HEAD" ? RefLookup{repo.default_branch, "branch"} : LookupOf(revision);
  Statement ref(*statements_,
                "SELECT commit_id FROM refs WHERE repo_id = ? AND name = ? "
                "AND (?3 = '' OR kind = ?3) ORDER BY kind = 'branch' DESC LIMIT 1");
  ref.Bind(1, repo.id).Bind(2, wanted.name).Bind(3, wanted.kind);
  std::string commit_id;
  if (ref.Step()) {
    commit_id = ref.Text(0);
  } else if (!ref.status().ok()) {
    return ref.status();
  } else if (IsSha1Hex(revision)) {
    commit_id = std::string(revision);
  }
  if (!commit_id.empty()) {
    Statement s(*statements_, std::string("SELECT ") + kCommitColumns +
                                  " FROM commits c WHERE c.repo_id = ? AND c.id = ?");
    s.Bind(1, repo.id).Bind(2, commit_id);
    if (s.Step()) return ReadCommit(s);
    if (!s.status().ok()) return s.status();
  }
  return Status(StatusCode::kRevisionNotFound,
                "Invalid rev id: " + std::string(revision.substr(0, 255)));
}

Result<Commit> Registry::ResolveRevisionOrPrefix(const Repo& repo, std::string_view revision) {
  auto commit = ResolveRevision(repo, revision);
  bool prefix = revision.size() >= 7 && revision.size() < 40 &&
                revision.find_first_not_of("0123456789abcdefABCDEF") == std::string_view::npos;
  if (commit.ok() || commit.status().code() != StatusCode::kRevisionNotFound || !prefix) {
    return commit;
  }
  std::string low = AsciiLower(revision);
  Statement s(*statements_, std::string("SELECT ") + kCommitColumns +
                                " FROM commits c WHERE c.repo_id = ? AND c.id >= ? AND c.id < ? "
                                "ORDER BY c.id LIMIT 2");
  s.Bind(1, repo.id).Bind(2, low).Bind(3, PrefixUpperBound(low));
  std::vector<Commit> found;
  while (s.Step()) found.push_back(ReadCommit(s));
  if (!s.status().ok()) return s.status();
  if (found.size() > 1) return InvalidArgument("the commit id " + low + " is ambiguous");
  if (found.empty()) return commit;
  return std::move(found.front());
}

Result<Registry::ResolvedFile> Registry::ResolveFile(RepoType type, std::string_view repo_name,
                                                     std::string_view revision,
                                                     std::string_view path) {
  std::string key(RepoTypeName(type));
  for (std::string_view part : {repo_name, revision, path}) {
    key += '\0';
    key += part;
  }
  return resolved_.Get(key, [&] { return ResolveFileInDatabase(type, repo_name, revision, path); });
}

Result<Registry::ResolvedFile> Registry::ResolveFileInDatabase(RepoType type,
                                                               std::string_view repo_name,
                                                               std::string_view revision,
                                                               std::string_view path) {
  {
    // The revision is a ref name (a branch before a tag; "HEAD" is the default branch) or, when
    // no ref has that name, a full commit id: the same rule as ResolveRevision.
    RefLookup wanted = revision == "HEAD" ? RefLookup{"HEAD", "branch"} : LookupOf(revision);
    Statement s(
        *statements_,
        std::string("WITH target AS ("
                    "  SELECT r.id AS repo_id, COALESCE("
                    "    (SELECT f.commit_id FROM refs f WHERE f.repo_id = r.id AND f.name ="
                    "       CASE WHEN ?5 = 'HEAD' THEN r.default_branch ELSE ?5 END"
                    "       AND (?6 = '' OR f.kind = ?6)"
                    "     ORDER BY f.kind = 'branch' DESC LIMIT 1), ?3) AS commit_id"
                    "  FROM repos r WHERE r.type = ?1 AND r.name_lower = ?2) ") +
            EntrySelect(std::string(", ") + kRepoAccessColumns) +
            "JOIN target t ON e.repo_id = t.repo_id AND e.commit_id = t.commit_id "
            "JOIN repos r ON r.id = t.repo_id WHERE e.path = ?4");
    s.Bind(1, RepoTypeName(type)).Bind(2, AsciiLower(repo_name)).Bind(3, revision).Bind(4, path);
    s.Bind(5, wanted.name).Bind(6, wanted.kind);
    if (s.Step()) {
      ResolvedFile file{s.Text(kEntryColumnCount), ReadEntryRow(s), Repo()};
      ReadRepoAccess(s, kEntryColumnCount + 1, &file.repo);
      return file;
    }
    HM_RETURN_IF_ERROR(s.status());
  }
  // A miss: find out which part is missing.
  auto repo = FindRepo(type, repo_name);
  if (!repo.ok()) return repo.status();
  auto commit = ResolveRevision(*repo, revision);
  if (!commit.ok()) return commit.status();
  return ResolvedFile{commit->id, std::nullopt, std::move(repo.value())};
}

Result<std::vector<Entry>> Registry::ReadEntries(Statement& s) {
  std::vector<Entry> entries;
  while (s.Step()) entries.push_back(ReadEntryRow(s));
  if (!s.status().ok()) return s.status();
  return entries;
}

Result<std::vector<Entry>> Registry::ListEntries(const Repo& repo, const std::string& commit_id,
                                                 std::string_view directory) {
  if (directory.empty()) {
    Statement s(*statements_,
                EntrySelect() + "WHERE e.repo_id = ? AND e.commit_id = ? ORDER BY e.path");
    s.Bind(1, repo.id).Bind(2, commit_id);
    return ReadEntries(s);
  }
  std::string prefix = std::string(directory) + "/";
  Statement s(*statements_,
              EntrySelect() +
                  "WHERE e.repo_id = ? AND e.commit_id = ? AND e.path >= ? AND e.path < ? "
                  "ORDER BY e.path");
  s.Bind(1, repo.id).Bind(2, commit_id).Bind(3, prefix).Bind(4, PrefixUpperBound(prefix));
  return ReadEntries(s);
}

Result<std::optional<Entry>> Registry::FindEntry(const Repo& repo, const std::string& commit_id,
                                                 std::string_view path) {
  Statement s(*statements_,
              EntrySelect() + "WHERE e.repo_id = ? AND e.commit_id = ? AND e.path = ?");
  s.Bind(1, repo.id).Bind(2, commit_id).Bind(3, path);
  auto entries = ReadEntries(s);
  if (!entries.ok()) return entries.status();
  if (entries->empty()) return std::optional<Entry>();
  return std::optional<Entry>(std::move(entries->front()));
}

Result<std::vector<Commit>> Registry::ListHistory(const Repo& repo, const std::string& head,
                                                  int64_t offset, int64_t limit, int64_t* total) {
  // Walks first parents with a recursive CTE; the depth bound guards against corrupt cycles.
  std::string chain =
      "WITH RECURSIVE chain(id, depth) AS ("
      "  SELECT ?2, 0"
      "  UNION ALL"
      "  SELECT c.parent_id, chain.depth + 1 FROM commits c JOIN chain ON c.id = chain.id"
      "  WHERE c.repo_id = ?1 AND c.parent_id IS NOT NULL AND c.parent_id != ''"
      "    AND chain.depth < 1000000) ";
  Statement count(*statements_, chain + "SELECT count(*) FROM chain");
  count.Bind(1, repo.id).Bind(2, head);
  if (!count.Step()) return count.status().ok() ? Internal("history count failed") : count.status();
  *total = count.Int(0);
  Statement s(*statements_, chain + "SELECT " + kCommitColumns +
                                " FROM chain JOIN commits c ON c.repo_id = ?1 AND c.id = chain.id "
                                "ORDER BY chain.depth LIMIT ?3 OFFSET ?4");
  s.Bind(1, repo.id).Bind(2, head).Bind(3, limit).Bind(4, offset);
  std::vector<Commit> commits;
  while (s.Step()) commits.push_back(ReadCommit(s));
  if (!s.status().ok()) return s.status();
  return commits;
}

Result<std::vector<Repo>> Registry::ListRepos(const RepoQuery& query) {
  static const std::map<std::string, std::string, std::less<>> kSortColumns = {
      {"id", "r.name_lower"},        {"lastModified", "r.last_modified"},
      {"createdAt", "r.created_at"}, {"downloads", "r.downloads"},
      {"likes", "r.likes"},          {"trendingScore", "r.likes"}};
  auto sort = kSortColumns.find(query.sort);
  if (sort == kSortColumns.end()) {
    return InvalidArgument("unknown sort key '" + query.sort.substr(0, 64) + "'");
  }
  std::string sql = "SELECT r.name FROM repos r WHERE r.type = ?";
  for (size_t i = 0; i < query.search.size(); ++i) sql += " AND r.name_lower LIKE ? ESCAPE '\\'";
  if (!query.author.empty()) sql += " AND lower(r.author) = ?";
  for (size_t i = 0; i < query.tags.size(); ++i) {
    sql += " AND EXISTS (SELECT 1 FROM repo_tags t WHERE t.repo_id = r.id AND t.tag = ?)";
  }
  // A private repo is listed for its own namespace (the user, the organization's members) and
  // for users granted access.
  const Viewer& viewer = query.viewer;
  const bool granted_too = !viewer.is_admin && viewer.user_id != 0;
  std::vector<std::string> namespaces;
  if (!viewer.is_admin) {
    if (!viewer.user_name.empty()) namespaces.push_back(AsciiLower(viewer.user_name));
    for (const auto& org : viewer.orgs) namespaces.push_back(AsciiLower(org));
    sql += " AND (COALESCE(r.private_setting, r.private) = 0";
    if (!namespaces.empty()) {
      // The namespace is the id's first part (the upstream's `author` may say otherwise).
      sql += " OR substr(r.name_lower, 1, instr(r.name_lower, '/') - 1) IN (?";
      for (size_t i = 1; i < namespaces.size(); ++i) sql += ", ?";
      sql += ")";
    }
    if (granted_too) {
      sql +=
          " OR EXISTS (SELECT 1 FROM access_requests a WHERE a.repo_id = r.id AND a.user_id = ? "
          "AND a.status = 'accepted')";
    }
    sql += ")";
  }
  sql += " ORDER BY " + sort->second + (query.descending ? " DESC" : " ASC") +
         ", r.name_lower ASC LIMIT ? OFFSET ?";
  Statement s(*statements_, sql);
  int index = 1;
  s.Bind(index++, RepoTypeName(query.type));
  for (const auto& term : query.search) {
    // Appended, not concatenated: GCC 12 at -O3 reports a false -Wrestrict on "%" + string.
    std::string pattern = EscapeLike(AsciiLower(term));
    pattern.insert(pattern.begin(), '%');
    pattern.push_back('%');
    s.Bind(index++, pattern);
  }
  if (!query.author.empty()) s.Bind(index++, AsciiLower(query.author));
  for (const auto& tag : query.tags) s.Bind(index++, tag);
  for (const auto& name : namespaces) s.Bind(index++, name);
  if (granted_too) s.Bind(index++, viewer.user_id);
  s.Bind(index, query.limit).Bind(index + 1, query.offset);
  std::vector<std::string> names;
  while (s.Step()) names.push_back(s.Text(0));
  if (!s.status().ok()) return s.status();
  std::vector<Repo> repos;
  for (const auto& name : names) {
    auto repo = FindRepo(query.type, name);
    if (!repo.ok()) return repo.status();
    repos.push_back(std::move(repo.value()));
  }
  return repos;
}

}  // namespace hubmirror::registry
