#include "sync/curl_upstream_hub.h"

#include "common/log.h"
#include "common/names.h"
#include "common/url.h"
#include "sync/chunked_download.h"
#include "sync/curl_transport.h"
#include "sync/hub_json.h"

namespace hubmirror::sync {
namespace {

constexpr int kMaxPages = 100000;

// "/api/models" or "/api/datasets": the listing, and with "/ID" a repo's API.
std::string ApiCollection(RepoType type) {
  return type == RepoType::kModel ? "/api/models" : "/api/datasets";
}

std::string ApiPrefix(RepoType type) { return ApiCollection(type) + "/"; }

// The repo info fields a mirror reads (hub-protocol.md §3.1): with `expand` the answer holds
// exactly these, base models included, so one request describes the revision.
std::string RevisionExpansion(RepoType type) {
  std::vector<std::string_view> fields = {"sha",    "cardData",  "tags",        "downloads",
                                          "likes",  "gated",     "private",     "disabled",
                                          "author", "createdAt", "lastModified"};
  if (type == RepoType::kModel) {
    fields.insert(fields.end(),
                  {"pipeline_tag", "library_name", "baseModels", "config", "safetensors"});
  }
  std::string query;
  for (std::string_view field : fields) {
    query += query.empty() ? "?" : "&";
    query += "expand%5B%5D=";
    query += field;
  }
  return query;
}

}  // namespace

Result<std::unique_ptr<CurlUpstreamHub>> CurlUpstreamHub::Create(UpstreamOptions options) {
  auto transport = CurlTransport::Create(std::move(options));
  if (!transport.ok()) return transport.status();
  return std::unique_ptr<CurlUpstreamHub>(new CurlUpstreamHub(std::move(transport.value())));
}

CurlUpstreamHub::CurlUpstreamHub(std::unique_ptr<CurlTransport> transport)
    : transport_(std::move(transport)), chunks_(std::make_unique<ChunkedDownloader>(*transport_)) {}

CurlUpstreamHub::~CurlUpstreamHub() = default;

const UpstreamOptions& CurlUpstreamHub::options() const { return transport_->options(); }

std::string CurlUpstreamHub::Name() const { return Redacted(options().base_url); }

Result<RemoteRevision> CurlUpstreamHub::GetRevision(RepoType type, const std::string& repo,
                                                    const std::string& revision) {
  std::string what = std::string(RepoTypeName(type)) + " " + repo + "@" + revision;
  std::string url =
      options().base_url + ApiPrefix(type) + repo + "/revision/" + PercentEncode(revision, false);
  auto info = transport_->GetJson(url + RevisionExpansion(type), what, nullptr);
  if (info.ok()) return ParseRevisionInfo(*info, repo, what);
  if (info.status().code() != StatusCode::kInvalidArgument) return info.status();
  // An upstream that refuses the expansion (400) still describes the revision in its default
  // payload, which lacks the base models: those are asked for separately, when it knows them.
  info = transport_->GetJson(url, what, nullptr);
  if (!info.ok()) return info.status();
  auto result = ParseRevisionInfo(*info, repo, what);
  if (!result.ok() || type != RepoType::kModel) return result;
  auto base =
      transport_->GetJson(options().base_url + ApiPrefix(type) + repo + "?expand%5B%5D=baseModels",
                          "model " + repo + " base models", nullptr);
  if (base.ok()) {
    result->base_models = ParseBaseModels(*base);
  } else if (base.status().code() != StatusCode::kInvalidArgument &&
             base.status().code() != StatusCode::kRepoNotFound) {
    return base.status();
  }
  return result;
}

Result<RemoteCommit> CurlUpstreamHub::GetCommit(RepoType type, const std::string& repo,
                                                const std::string& commit_id) {
  std::string what = std::string(RepoTypeName(type)) + " " + repo + " commit " + commit_id;
  auto page = transport_->GetJson(
      options().base_url + ApiPrefix(type) + repo + "/commits/" + commit_id + "?limit=1", what,
      nullptr);
  if (!page.ok()) {
    if (page.status().code() == StatusCode::kFailedPrecondition) return page.status();
    // The commit's title and date are metadata: a server without the commits endpoint still
    // mirrors, with a generic title.
    Log(LogLevel::kWarning, page.status().message());
    return RemoteCommit{};
  }
  return ParseFirstCommit(*page).value_or(RemoteCommit{});
}

Result<std::vector<RemoteRef>> CurlUpstreamHub::ListRefs(RepoType type, const std::string& repo) {
  auto body =
      transport_->GetJson(options().base_url + ApiPrefix(type) + repo + "/refs?include_prs=1",
                          std::string(RepoTypeName(type)) + " " + repo + " refs", nullptr);
  if (!body.ok()) return body.status();
  return ParseRefs(*body);
}

Status CurlUpstreamHub::GetPages(std::string url, const std::string& what,
                                 const std::function<Status(const nlohmann::json& items)>& page) {
  for (int pages = 0; !url.empty(); ++pages) {
    if (pages >= kMaxPages) return Corrupt(what + ": pagination does not end");
    std::string next;
    auto body = transport_->GetJson(url, what, &next);
    if (!body.ok()) return body.status();
    if (!body->is_array()) return Corrupt(what + ": upstream answer is not a JSON array");
    HM_RETURN_IF_ERROR(page(*body));
    url.clear();
    if (!next.empty()) {
      auto resolved = transport_->OnUpstream(options().base_url, next);
      // The Hub's links are absolute; following one to another host would leak the token.
      if (!resolved) {
        return Corrupt(what + ": pagination link leaves the upstream: " + Redacted(next));
      }
      url = *resolved;
    }
  }
  return Status::Ok();
}

Result<std::vector<std::string>> CurlUpstreamHub::ListRepoIds(RepoType type,
                                                              const std::string& author) {
  std::vector<std::string> ids;
  Status listed = GetPages(options().base_url + ApiCollection(type) +
                               "?author=" + PercentEncode(author, false) + "&limit=1000",
                           std::string(RepoTypeName(type)) + " listing of " + author,
                           [&](const nlohmann::json& items) {
                             for (const auto& item : items) {
                               std::string id = StringField(item, "id");
                               if (ValidateRepoId(id).ok()) ids.push_back(id);
                             }
                             return Status::Ok();
                           });
  if (!listed.ok()) return listed;
  return ids;
}

Result<std::vector<RemoteModel>> CurlUpstreamHub::ListChildren(const std::string& parent,
                                                               const std::string& relation) {
  std::string filter = "base_model:" + (relation.empty() ? "" : relation + ":") + parent;
  std::vector<RemoteModel> models;
  Status listed = GetPages(options().base_url + ApiCollection(RepoType::kModel) +
                               "?filter=" + PercentEncode(filter, false) +
                               "&sort=downloads&direction=-1&limit=1000",
                           "listing of " + filter, [&](const nlohmann::json& items) {
                             for (const auto& item : items) {
                               if (auto model = ParseListedModel(item)) {
                                 models.push_back(std::move(*model));
                               }
                             }
                             return Status::Ok();
                           });
  if (!listed.ok()) return listed;
  return models;
}

Result<std::vector<RemoteEntry>> CurlUpstreamHub::ListTree(RepoType type, const std::string& repo,
                                                           const std::string& commit_id) {
  std::string what = std::string(RepoTypeName(type)) + " " + repo + "@" + commit_id + " tree";
  std::vector<RemoteEntry> entries;
  Status listed =
      GetPages(options().base_url + ApiPrefix(type) + repo + "/tree/" + commit_id +
                   "?recursive=true&expand=false",
               what, [&](const nlohmann::json& items) {
                 for (const auto& item : items) {
                   auto entry = ParseTreeEntry(item);
                   if (!entry.ok()) {
                     return Status(entry.status().code(), what + ": " + entry.status().message());
                   }
                   entries.push_back(std::move(entry.value()));
                 }
                 return Status::Ok();
               });
  if (!listed.ok()) return listed;
  return entries;
}

Status CurlUpstreamHub::Download(RepoType type, const std::string& repo,
                                 const std::string& commit_id, const std::string& path,
                                 uint64_t size, uint64_t offset, const ByteSink& sink,
                                 DownloadInfo* info) {
  std::string what = std::string(RepoTypeName(type)) + " " + repo + "@" + commit_id + " " + path;
  std::string url = options().base_url + "/" + (type == RepoType::kDataset ? "datasets/" : "") +
                    repo + "/resolve/" + commit_id + "/" + PercentEncode(path, true);
  std::string direct_url;
  uint64_t chunk = options().range_chunk_bytes;
  // libcurl paces each transfer on its own, so a rate limit keeps one connection per file.
  bool split = chunk > 0 && options().max_bytes_per_second == 0 && size > offset &&
               size - offset >= 2 * chunk;
  if (!split)
    return transport_->FetchRange(what, url, &direct_url, {offset, 0}, sink, info, nullptr);
  // The first chunk resolves the URL and reads the Hub's headers; an upstream that ignores
  // Range gets the rest as one stream.
  bool ranged = false;
  HM_RETURN_IF_ERROR(transport_->FetchRange(what, url, &direct_url, {offset, offset + chunk}, sink,
                                            info, &ranged));
  if (!ranged)
    return transport_->FetchRange(what, url, &direct_url, {offset + chunk, 0}, sink, nullptr,
                                  nullptr);
  return chunks_->Fetch(what, url, direct_url, {offset + chunk, size}, sink);
}

}  // namespace hubmirror::sync
