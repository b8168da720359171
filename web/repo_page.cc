// A repo's page (`/-/models/{id}`, `/-/datasets/{id}`): its card, files, refs, history, how to
// download it, and for a gated repo the access request.
#include <unistd.h>

#include "api/access.h"
#include "common/digest.h"
#include "web/markdown.h"
#include "web/page_handlers.h"

namespace hubmirror::web {
namespace {

constexpr int64_t kCommitsPerPage = 20;
// A card is read whole to be checked against its digest; larger ones are not shown.
constexpr uint64_t kMaxCardFileBytes = 16u << 20;

// The page's address at a revision and folder (and page of history).
std::string RepoUrl(const registry::Repo& repo, std::string_view revision, std::string_view path,
                    int64_t history = 1) {
  std::string url = RepoPageUrl(repo.type, repo.name) + "?rev=" + QueryValueText(revision);
  if (!path.empty()) url += "&path=" + QueryValueText(path);
  if (history > 1) url += "&history=" + std::to_string(history);
  return url;
}

// README.md of the revision, rendered; "" when it has none. Read from the store and checked
// against its digest, so a damaged card is never shown as the publisher's.
std::string CardHtml(const RequestContext& context, const registry::Repo& repo,
                     const registry::Commit& commit, bool files_readable) {
  auto entry = context.registry.FindEntry(repo, commit.id, "README.md");
  if (!entry.ok() || !entry->has_value() || (*entry)->is_directory) return "";
  const registry::Entry& readme = **entry;
  std::string unavailable = "<p class=\"notice\">The card (README.md) is not available here.</p>";
  if (readme.sha256.empty() || readme.blob_state != registry::BlobState::kOk) return unavailable;
  if (readme.size > kMaxCardFileBytes) {
    return "<p class=\"notice\">The card (README.md) is too large to show here.</p>";
  }
  auto file = context.store.Open(readme.sha256);
  if (!file.ok() || file->size() > kMaxCardFileBytes) return unavailable;
  std::string bytes(file->size(), '\0');
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t got = ::pread(file->fd(), bytes.data() + done, bytes.size() - done, done);
    if (got <= 0) break;
    done += static_cast<size_t>(got);
  }
  if (done != file->size() || Sha256Hex(bytes) != readme.sha256) return unavailable;
  CardContext card{FileUrl(repo.type, repo.name, commit.id, ""), files_readable};
  return RenderCard(bytes, card);
}

std::string FilesTable(const registry::Repo& repo, const registry::Commit& commit,
                       std::string_view revision, const std::string& folder,
                       const std::vector<registry::Entry>& entries, bool files_readable) {
  std::string prefix = folder.empty() ? "" : folder + "/";
  std::string html = "<section id=\"files\"><h2>Files</h2><p class=\"crumbs\"><a href=\"" +
                     Escape(RepoUrl(repo, revision, "")) + "\">" + Escape(repo.name) + "</a>";
  for (size_t start = 0; start < folder.size();) {
    size_t slash = folder.find('/', start);
    std::string upto = folder.substr(0, slash);
    html += " / <a href=\"" + Escape(RepoUrl(repo, revision, upto)) + "\">" +
            Escape(folder.substr(start, slash == std::string::npos ? slash : slash - start)) +
            "</a>";
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  html += "</p>";
  if (!files_readable) {
    html += "<p class=\"notice\">Files are listed; downloading them needs access (see above).</p>";
  }
  html += TableStart("file-table", {"Name", "Size", "Storage", "SHA-256"});
  // The folder's own entries, folders first.
  std::vector<const registry::Entry*> shown;
  for (bool folders : {true, false}) {
    for (const auto& entry : entries) {
      if (entry.is_directory != folders || !entry.path.starts_with(prefix) ||
          entry.path.size() == prefix.size() ||
          entry.path.find('/', prefix.size()) != std::string::npos) {
        continue;
      }
      shown.push_back(&entry);
    }
  }
  uint64_t files = 0;
  uint64_t bytes = 0;
  for (const registry::Entry* listed : shown) {
    const registry::Entry& entry = *listed;
    std::string_view name = std::string_view(entry.path).substr(prefix.size());
    if (entry.is_directory) {
      html += "<tr class=\"folder\"><td><a href=\"" + Escape(RepoUrl(repo, revision, entry.path)) +
              "\">" + Escape(name) + "/</a></td><td></td><td></td><td></td></tr>";
      continue;
    }
    ++files;
    bytes += entry.size;
    html += "<tr class=\"file\"><td>";
    if (files_readable) {
      html += "<a href=\"" + Escape(FileUrl(repo.type, repo.name, commit.id, entry.path)) +
              "\" download>" + Escape(name) + "</a>";
    } else {
      html += "<span class=\"name\">" + Escape(name) + "</span>";
    }
    html += "</td><td>" + FormatBytes(entry.size) + "</td><td>" +
            (entry.lfs ? "<span class=\"lfs\" title=\"stored with Git LFS\">LFS</span>" : "git");
    if (entry.blob_state != registry::BlobState::kOk) {
      html += " <span class=\"badge damaged\">" +
              std::string(registry::BlobStateName(entry.blob_state)) + "</span>";
    }
    html += "</td><td><code class=\"sha256\">" + Escape(entry.sha256) + "</code></td></tr>";
  }
  html += std::string(kTableEnd) + "<p class=\"meta\">" + std::to_string(files) + " files, " +
          FormatBytes(bytes) + " in this folder</p></section>";
  return html;
}

std::string RefsSection(const registry::Repo& repo, const std::vector<registry::Ref>& refs,
                        const std::string& shown_commit) {
  std::string html = "<section id=\"refs\"><h2>Branches, tags and refs</h2><ul class=\"refs\">";
  for (const auto& ref : refs) {
    std::string full = FullRefName(ref.ref_name());
    std::string revision = RefRevision(ref.ref_name());
    html += "<li><a href=\"" + Escape(RepoUrl(repo, revision, "")) + "\"" +
            (ref.commit_id == shown_commit ? " class=\"current\"" : "") + ">" + Escape(full) +
            "</a> <code>" + Escape(ref.commit_id.substr(0, 12)) + "</code></li>";
  }
  return html + "</ul></section>";
}

Result<std::string> HistorySection(const RequestContext& context, const registry::Repo& repo,
                                   const registry::Commit& commit, std::string_view revision,
                                   const std::string& folder) {
  int64_t page = PageNumber(context, "history");
  int64_t total = 0;
  auto commits = context.registry.ListHistory(repo, commit.id, (page - 1) * kCommitsPerPage,
                                              kCommitsPerPage, &total);
  if (!commits.ok()) return commits.status();
  std::string html = "<section id=\"history\"><h2>History</h2><p class=\"meta\">" +
                     std::to_string(total) + " commits</p><ol class=\"commits\">";
  for (const auto& item : *commits) {
    html += "<li><a href=\"" + Escape(RepoUrl(repo, item.id, "")) + "\"><code>" +
            Escape(item.id.substr(0, 12)) + "</code></a> " + Escape(item.title) +
            " <span class=\"meta\">" + Escape(item.author) + ", " + FormatTime(item.date_ms) +
            "</span></li>";
  }
  html += "</ol>";
  if (page * kCommitsPerPage < total) {
    html += "<a rel=\"next\" href=\"" + Escape(RepoUrl(repo, revision, folder, page + 1)) +
            "\">Older commits</a>";
  }
  return html + "</section>";
}

// A revision as the snippets name it: as asked when it is plain (a branch, a tag, a ref),
// else the commit. Ref names may hold quotes, `$(...)` and the like, and the snippets are copied
// into shells.
std::string SnippetRevision(std::string_view asked, const std::string& commit) {
  bool plain = !asked.empty() && asked.find_first_not_of(
                                     "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                     "abcdefghijklmnopqrstuvwxyz"
                                     "0123456789._/-") == std::string::npos;
  return plain ? std::string(asked) : commit;
}

std::string DownloadSection(const RequestContext& context, const registry::Repo& repo,
                            const std::string& revision,
                            const std::vector<registry::Entry>& entries, bool needs_token) {
  bool dataset = repo.type == RepoType::kDataset;
  std::string python = "# pip install huggingface_hub\nexport HF_ENDPOINT=" + context.origin +
                       "\n" +
                       (needs_token ? "export HF_TOKEN=...  # a token of this server\n" : "") +
                       "python3 -c 'from huggingface_hub import snapshot_download; "
                       "print(snapshot_download(\"" +
                       repo.name + "\", revision=\"" + std::string(revision) + "\"" +
                       (dataset ? ", repo_type=\"dataset\"" : "") + "))'";
  std::string example = "README.md";
  for (const auto& entry : entries) {
    if (!entry.is_directory) {
      example = entry.path;
      break;
    }
  }
  std::string curl = "curl -L -O " +
                     std::string(needs_token ? "-H \"Authorization: Bearer $HF_TOKEN\" " : "") +
                     context.origin + FileUrl(repo.type, repo.name, revision, example);
  return "<section id=\"download\"><h2>Download through this mirror</h2>"
         "<p>With the official Python client:</p><pre id=\"snippet-python\" tabindex=\"0\">" +
         Escape(python) +
         "</pre><p>One file with curl:</p><pre id=\"snippet-curl\" tabindex=\"0\">" + Escape(curl) +
         "</pre></section>";
}

// The gate: what the caller must do to download, and where their request stands.
Result<std::string> AccessSection(const RequestContext& context, const registry::Repo& repo,
                                  api::RepoRight right) {
  std::string html = "<section id=\"access\"><h2>Access</h2><p>This repo is gated (" +
                     Escape(repo.gated) + "): its files can be downloaded once access is granted.";
  if (right == api::RepoRight::kContent) {
    return html + "</p><p id=\"access-state\" class=\"ok\">You have access.</p></section>";
  }
  html += "</p><blockquote class=\"terms\">" + Escape(api::AccessTerms(repo)) + "</blockquote>";
  if (context.caller.anonymous()) {
    return html + "<p><a id=\"signin-to-request\" href=\"/-/signin?next=" +
           QueryValueText(RepoPageUrl(repo.type, repo.name)) +
           "\">Sign in</a> to ask for access.</p></section>";
  }
  for (auto status : {registry::AccessStatus::kPending, registry::AccessStatus::kRejected}) {
    auto requests = context.registry.ListAccessRequests(repo.type, repo.name, status);
    if (!requests.ok()) return requests.status();
    for (const auto& request : *requests) {
      if (!EqualsIgnoringCase(request.user, context.caller.name())) continue;
      html += "<p id=\"access-state\" class=\"" + std::string(registry::AccessStatusName(status)) +
              "\">Your request is " + std::string(registry::AccessStatusName(status)) + " (asked " +
              FormatTime(request.requested_at_ms) + ")";
      if (!request.reason.empty()) html += ": " + Escape(request.reason);
      return html + ".</p></section>";
    }
  }
  return html + "<form id=\"request-access-form\" method=\"post\" action=\"/-/access/" +
         std::string(RepoTypeName(repo.type)) + "s/" + Escape(repo.name) +
         "\"><button id=\"request-access\" type=\"submit\">Accept the terms and ask for "
         "access</button></form></section>";
}

}  // namespace

Response RepoPage(const RequestContext& context) {
  api::RepoRight right = api::RepoRight::kNone;
  auto repo = api::FindVisibleRepo(context, context.route.type, context.route.repo, &right);
  if (!repo.ok()) return RepoLookupFailed(context, repo.status());
  std::string revision = PageParam(context, "rev");
  if (revision.empty()) revision = repo->default_branch;
  auto commit = context.registry.ResolveRevisionOrPrefix(*repo, revision);
  if (!commit.ok()) {
    StatusCode code = commit.status().code();
    if (code == StatusCode::kInvalidArgument) {
      return ErrorPage(context, http::status::bad_request, commit.status().message());
    }
    if (code != StatusCode::kRevisionNotFound && code != StatusCode::kNotFound) {
      return ErrorPage(context, http::status::internal_server_error, commit.status().message());
    }
    return ErrorPage(context, http::status::not_found,
                     "no revision " + revision + " in " + repo->name);
  }
  std::string folder = PageParam(context, "path");
  if (!folder.empty() && !ValidateRepoPath(folder).ok()) {
    return ErrorPage(context, http::status::bad_request, "not a valid folder: " + folder);
  }
  auto entries = context.registry.ListEntries(*repo, commit->id, folder);
  auto refs = context.registry.ListRefs(*repo);
  auto history = HistorySection(context, *repo, *commit, revision, folder);
  Status failed = !entries.ok() ? entries.status() : !refs.ok() ? refs.status() : history.status();
  if (!failed.ok())
    return ErrorPage(context, http::status::internal_server_error, failed.message());
  bool readable = right == api::RepoRight::kContent;
  bool gated = repo->gated != "false";
  std::string html =
      PageStart(context, repo->name, repo->type == RepoType::kDataset ? "datasets" : "models");
  html += "<h1 id=\"repo-title\"><span class=\"kind\">" + std::string(RepoTypeName(repo->type)) +
          "</span> " + Escape(repo->name) + "</h1><p class=\"badges\">";
  for (const std::string* label : {&repo->pipeline_tag, &repo->library_name}) {
    if (!label->empty()) html += "<span class=\"badge\">" + Escape(*label) + "</span>";
  }
  if (gated) html += "<span class=\"badge gated\">gated</span>";
  if (repo->is_private) html += "<span class=\"badge private\">private</span>";
  html += "</p><p class=\"meta\">Revision <strong>" + Escape(revision) +
          "</strong> at commit <code>" + Escape(commit->id) + "</code>, " +
          FormatTime(commit->date_ms);
  if (repo->type == RepoType::kModel) {
    html += " · <a id=\"lineage-link\" href=\"" + LineagePageUrl(repo->name) + "\">Lineage</a>";
  }
  html += " · <a href=\"/api/integrity/" + std::string(RepoTypeName(repo->type)) + "s/" +
          Escape(repo->name) + "/" + Escape(commit->id) + "\">Signed manifest</a></p>";
  if (gated) {
    auto access = AccessSection(context, *repo, right);
    if (!access.ok()) {
      return ErrorPage(context, http::status::internal_server_error, access.status().message());
    }
    html += *access;
  }
  std::string card = folder.empty() ? CardHtml(context, *repo, *commit, readable) : "";
  if (!card.empty()) {
    html +=
        "<section id=\"card\"><h2>Card</h2><div class=\"markdown\">" + card + "</div></section>";
  }
  html += FilesTable(*repo, *commit, revision, folder, *entries, readable);
  html += RefsSection(*repo, *refs, commit->id) + *history +
          DownloadSection(context, *repo, SnippetRevision(revision, commit->id), *entries,
                          gated || repo->is_private);
  html += PageEnd();
  return HtmlResponse(std::move(html));
}

}  // namespace hubmirror::web
