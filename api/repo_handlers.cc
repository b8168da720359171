// Repo info and repo listing: /api/{models,datasets}[/{repo}[/revision/{rev}]].
#include <set>

#include "api/access.h"
#include "api/handler_support.h"
#include "common/clock.h"

namespace hubmirror::api {
namespace {

using nlohmann::json;

// Values of `expand` the Hub accepts (hub-protocol §3.1); any other value is a 400.
const std::set<std::string, std::less<>>& ValidExpandValues(RepoType type) {
  static const std::set<std::string, std::less<>> kModel = {"author",
                                                            "baseModels",
                                                            "cardData",
                                                            "childrenModelCount",
                                                            "config",
                                                            "createdAt",
                                                            "disabled",
                                                            "downloads",
                                                            "downloadsAllTime",
                                                            "evalResults",
                                                            "gated",
                                                            "gguf",
                                                            "gitalyUid",
                                                            "inference",
                                                            "inferenceProviderMapping",
                                                            "lastModified",
                                                            "library_name",
                                                            "likes",
                                                            "mask_token",
                                                            "model-index",
                                                            "pipeline_tag",
                                                            "private",
                                                            "resourceGroup",
                                                            "safetensors",
                                                            "sha",
                                                            "siblings",
                                                            "spaces",
                                                            "tags",
                                                            "transformersInfo",
                                                            "trendingScore",
                                                            "usedStorage",
                                                            "widgetData",
                                                            "xetEnabled"};
  static const std::set<std::string, std::less<>> kDataset = {
      "author",    "cardData",          "citation",    "createdAt",     "description",  "disabled",
      "downloads", "downloadsAllTime",  "gated",       "gitalyUid",     "lastModified", "likes",
      "mainSize",  "paperswithcode_id", "private",     "resourceGroup", "sha",          "siblings",
      "tags",      "trendingScore",     "usedStorage", "xetEnabled"};
  return type == RepoType::kModel ? kModel : kDataset;
}

Result<std::vector<std::string>> ExpandValues(const Route& route) {
  std::vector<std::string> values;
  for (const auto& value : QueryValues(route.query, "expand")) {
    if (!ValidExpandValues(route.type).count(value)) {
      return InvalidArgument("\"expand\" must be one of the documented properties, got '" +
                             value.substr(0, 100) + "'");
    }
    values.push_back(value);
  }
  return values;
}

// Builds the JSON of one repo on demand: each property is computed only when asked for, since
// listing pages ask for a few and full info for many. Not thread-safe; one per response.
class RepoJsonBuilder {
 public:
  RepoJsonBuilder(registry::Registry& registry, const registry::Repo& repo)
      : registry_(registry), repo_(repo) {}

  // The commit whose files, sha and card are shown. Without one, the sha and files are the default
  // branch head's and the card properties come from the repo row (which mirrors that head).
  void UseCommit(registry::Commit commit) { commit_ = std::move(commit); }

  Status Add(json& out, const std::string& key, bool with_blobs) {
    if (key == "author") {
      out[key] = repo_.author;
    } else if (key == "sha") {
      HM_RETURN_IF_ERROR(LoadCommit());
      out[key] = commit_->id;
    } else if (key == "lastModified") {
      out[key] = FormatIsoMillis(repo_.last_modified_ms);
    } else if (key == "createdAt") {
      out[key] = FormatIsoMillis(repo_.created_at_ms);
    } else if (key == "private") {
      out[key] = repo_.is_private;
    } else if (key == "disabled") {
      out[key] = repo_.disabled;
    } else if (key == "gated") {
      out[key] = repo_.gated == "false" ? json(false) : json(repo_.gated);
    } else if (key == "downloads" || key == "downloadsAllTime") {
      out[key] = repo_.downloads;
    } else if (key == "likes") {
      out[key] = repo_.likes;
    } else if (key == "trendingScore") {
      out[key] = 0;
    } else if (key == "library_name") {
      const std::string& library = commit_ ? commit_->library_name : repo_.library_name;
      if (!library.empty()) out[key] = library;
    } else if (key == "pipeline_tag") {
      const std::string& pipeline = commit_ ? commit_->pipeline_tag : repo_.pipeline_tag;
      if (!pipeline.empty()) out[key] = pipeline;
    } else if (key == "tags") {
      if (commit_) {
        out[key] = commit_->tags;
      } else {
        auto tags = registry_.RepoTags(repo_);
        if (!tags.ok()) return tags.status();
        out[key] = tags.value();
      }
    } else if (key == "cardData") {
      AddJsonText(out, key, commit_ ? commit_->card_data_json : repo_.card_data_json);
    } else if (key == "config" || key == "safetensors") {
      HM_RETURN_IF_ERROR(LoadCommit());
      AddJsonText(out, key, key == "config" ? commit_->config_json : commit_->safetensors_json);
    } else if (key == "siblings" || key == "usedStorage") {
      HM_RETURN_IF_ERROR(LoadEntries());
      if (key == "usedStorage") {
        uint64_t total = 0;
        for (const auto& e : *entries_) total += e.size;
        out[key] = total;
      } else {
        out[key] = Siblings(with_blobs);
      }
    } else if (key == "spaces") {
      out[key] = json::array();
    } else if (key == "baseModels") {
      auto edges = registry_.ParentEdges(repo_.name);
      if (!edges.ok()) return edges.status();
      if (!edges->empty()) {
        json models = json::array();
        for (const auto& edge : *edges) {
          json model = {{"id", edge.parent}};
          // A parent that is mirrored here also has the Hub's `_id`; others are ids only.
          if (auto parent = registry_.FindRepo(RepoType::kModel, edge.parent); parent.ok()) {
            model["_id"] = parent->object_id;
          }
          models.push_back(std::move(model));
        }
        out[key] = {{"relation", edges->front().relation}, {"models", models}};
      }
    } else if (key == "childrenModelCount") {
      auto counts = registry_.ChildCountsByRelation(repo_.name);
      if (!counts.ok()) return counts.status();
      json object = json::object();
      for (const char* relation : {"adapter", "merge", "quantized", "finetune"}) {
        object[relation] = 0;
      }
      for (const auto& [relation, count] : *counts) object[relation] = count;
      out[key] = object;
    }
    // Other documented properties (inference, widgetData, ...) have no local data: omitted.
    return Status::Ok();
  }

  json Envelope() const {
    json out = json::object();
    out["_id"] = repo_.object_id;
    out["id"] = repo_.name;
    return out;
  }

 private:
  // Stored JSON text as a property, left out when there is none.
  static void AddJsonText(json& out, const std::string& key, const std::string& text) {
    if (text.empty()) return;
    json value = json::parse(text, nullptr, false);
    if (!value.is_discarded()) out[key] = std::move(value);
  }

  Status LoadCommit() {
    if (commit_) return Status::Ok();
    auto commit = registry_.ResolveRevision(repo_, "HEAD");
    if (!commit.ok()) return commit.status();
    commit_ = std::move(commit.value());
    return Status::Ok();
  }

  Status LoadEntries() {
    if (entries_) return Status::Ok();
    HM_RETURN_IF_ERROR(LoadCommit());
    auto entries = registry_.ListEntries(repo_, commit_->id, "");
    if (!entries.ok()) return entries.status();
    entries_ = std::move(entries.value());
    std::erase_if(*entries_, [](const registry::Entry& e) { return e.is_directory; });
    return Status::Ok();
  }

  json Siblings(bool with_blobs) const {
    json siblings = json::array();
    for (const auto& e : *entries_) {
      json sibling = {{"rfilename", e.path}};
      if (with_blobs) {
        sibling["size"] = e.size;
        sibling["blobId"] = e.git_oid;
        if (e.lfs) {
          sibling["lfs"] = {
              {"sha256", e.sha256}, {"size", e.size}, {"pointerSize", e.pointer_size}};
        }
      }
      siblings.push_back(std::move(sibling));
    }
    return siblings;
  }

  registry::Registry& registry_;
  const registry::Repo& repo_;
  std::optional<registry::Commit> commit_;
  std::optional<std::vector<registry::Entry>> entries_;
};

// `{_id, id}` plus the keys; the default (unexpanded) model payload also carries `modelId`.
Result<json> BuildRepoJson(RepoJsonBuilder& builder, const std::vector<std::string>& keys,
                           bool with_blobs, bool with_model_id) {
  json out = builder.Envelope();
  if (with_model_id) out["modelId"] = out["id"];
  for (const auto& key : keys) {
    Status added = builder.Add(out, key, with_blobs);
    if (!added.ok()) return added;
  }
  return out;
}

bool WantsModelId(const Route& route, const std::vector<std::string>& expand) {
  return route.type == RepoType::kModel && expand.empty();
}

}  // namespace

Response HandleRepoInfo(const RequestContext& context) {
  const Route& route = context.route;
  auto expand = ExpandValues(route);
  if (!expand.ok()) return ErrorFromStatus(expand.status(), true);
  RepoRight right = RepoRight::kNone;
  auto repo = FindVisibleRepo(context, route.type, route.repo, &right);
  if (!repo.ok()) return ErrorFromStatus(repo.status(), true);
  auto commit = context.registry.ResolveRevision(*repo, route.revision);
  if (!commit.ok()) return ErrorFromStatus(commit.status(), true);
  auto blobs = QueryValue(route.query, "blobs");
  bool with_blobs = blobs && ParseBool(*blobs).value_or(false);

  RepoJsonBuilder builder(context.registry, *repo);
  builder.UseCommit(commit.value());
  std::vector<std::string> keys = expand.value();
  if (keys.empty()) {
    keys = {"author",    "sha",   "lastModified", "createdAt", "private",  "disabled",   "gated",
            "downloads", "likes", "tags",         "cardData",  "siblings", "usedStorage"};
    if (route.type == RepoType::kModel) {
      keys.insert(keys.end(), {"library_name", "pipeline_tag", "config", "safetensors", "spaces"});
    }
  }
  auto body = BuildRepoJson(builder, keys, with_blobs, WantsModelId(route, *expand));
  if (!body.ok()) return ErrorFromStatus(body.status(), true);
  return JsonResponse(*body);
}

Response HandleListRepos(const RequestContext& context) {
  constexpr int64_t kMaxPage = 1000;
  const Route& route = context.route;
  auto expand = ExpandValues(route);
  if (!expand.ok()) return ErrorFromStatus(expand.status(), true);
  registry::RepoQuery query;
  query.type = route.type;
  query.viewer = context.caller.viewer();
  query.search = QueryValues(route.query, "search");
  query.author = QueryValue(route.query, "author").value_or("");
  for (const char* key : {"filter", "pipeline_tag", "library", "language"}) {
    for (const auto& value : QueryValues(route.query, key)) {
      size_t start = 0;
      // A comma inside one filter value also means "and".
      while (start <= value.size()) {
        size_t comma = value.find(',', start);
        std::string tag = value.substr(start, comma == std::string::npos ? comma : comma - start);
        if (!tag.empty()) query.tags.push_back(tag);
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
    }
  }
  if (auto sort = QueryValue(route.query, "sort")) {
    query.sort = *sort;
    query.descending = *sort != "id";
  }
  if (auto direction = QueryValue(route.query, "direction")) {
    if (*direction != "1" && *direction != "-1") {
      return ErrorResponse(ApiError::kBadRequest, "direction must be 1 or -1", true);
    }
    query.descending = *direction == "-1";
  }
  auto limit = IntegerParam(route.query, "limit");
  auto cursor = IntegerParam(route.query, "cursor");
  if (!limit.ok()) return ErrorFromStatus(limit.status(), true);
  if (!cursor.ok()) return ErrorFromStatus(cursor.status(), true);
  int64_t page = std::min(limit->value_or(kMaxPage), kMaxPage);
  if (page <= 0) return ErrorResponse(ApiError::kBadRequest, "limit must be positive", true);
  query.offset = cursor->value_or(0);
  query.limit = page + 1;  // one more tells whether a next page exists
  auto repos = context.registry.ListRepos(query);
  if (!repos.ok()) return ErrorFromStatus(repos.status(), true);
  bool more = static_cast<int64_t>(repos->size()) > page;
  if (more) repos->pop_back();

  auto flag = [&](const char* key) {
    auto value = QueryValue(route.query, key);
    return value && ParseBool(*value).value_or(false);
  };
  std::vector<std::string> keys = expand.value();
  if (keys.empty()) {
    keys = {"likes", "trendingScore", "private", "downloads", "tags", "createdAt"};
    if (route.type == RepoType::kModel) keys.insert(keys.end(), {"pipeline_tag", "library_name"});
    if (flag("full")) {
      keys.insert(keys.end(), {"author", "sha", "lastModified", "gated", "disabled", "siblings"});
    }
    if (flag("cardData") || flag("full")) keys.push_back("cardData");
    if (flag("config") && route.type == RepoType::kModel) keys.push_back("config");
  }
  json body = json::array();
  for (const auto& repo : *repos) {
    RepoJsonBuilder builder(context.registry, repo);
    auto item = BuildRepoJson(builder, keys, false, WantsModelId(route, *expand));
    if (!item.ok()) return ErrorFromStatus(item.status(), true);
    body.push_back(std::move(item.value()));
  }
  Response response = JsonResponse(body);
  if (more) {
    response.Set("Link", NextPageLink(context, {{"cursor", std::to_string(query.offset + page)}}));
  }
  return response;
}

}  // namespace hubmirror::api
