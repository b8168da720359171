#include "sync/hub_json.h"

#include "common/clock.h"
#include "common/digest.h"
#include "common/names.h"

namespace hubmirror::sync {
namespace {

int64_t IntegerField(const nlohmann::json& object, const char* key) {
  auto value = object.find(key);
  return value != object.end() && value->is_number_integer() ? value->get<int64_t>() : 0;
}

bool BoolField(const nlohmann::json& object, const char* key) {
  auto value = object.find(key);
  return value != object.end() && value->is_boolean() && value->get<bool>();
}

// An object field, or null when absent or of another type.
nlohmann::json ObjectField(const nlohmann::json& object, const char* key) {
  auto value = object.find(key);
  return value != object.end() && value->is_object() ? *value : nlohmann::json();
}

// `gated` as the Hub states it: false, "auto" or "manual". Anything else is read as "manual",
// the stricter: a flag the mirror cannot read must not open a repo.
std::string GatedField(const nlohmann::json& object) {
  auto value = object.find("gated");
  if (value == object.end() || value->is_null() || (value->is_boolean() && !value->get<bool>())) {
    return "false";
  }
  if (value->is_string() && value->get<std::string>() == "auto") return "auto";
  return "manual";
}

}  // namespace

std::string StringField(const nlohmann::json& object, const char* key) {
  if (!object.is_object()) return "";
  auto value = object.find(key);
  return value != object.end() && value->is_string() ? value->get<std::string>() : "";
}

Result<RemoteRevision> ParseRevisionInfo(const nlohmann::json& body, const std::string& asked,
                                         const std::string& what) {
  std::string sha = StringField(body, "sha");
  if (!IsSha1Hex(sha)) return Corrupt(what + ": upstream repo info has no 40-hex \"sha\"");
  RemoteRevision result;
  result.commit_id = sha;
  std::string id = StringField(body, "id");
  result.id = ValidateRepoId(id).ok() ? id : asked;
  if (auto card = body.find("cardData"); card != body.end() && card->is_object()) {
    result.card_data = *card;
  }
  if (auto tags = body.find("tags"); tags != body.end() && tags->is_array()) {
    for (const auto& tag : *tags) {
      if (tag.is_string()) result.tags.push_back(tag.get<std::string>());
    }
  }
  result.pipeline_tag = StringField(body, "pipeline_tag");
  result.library_name = StringField(body, "library_name");
  result.downloads = IntegerField(body, "downloads");
  result.base_models = ParseBaseModels(body);
  std::string object_id = StringField(body, "_id");
  if (IsLowerHex(object_id, 24)) result.object_id = object_id;
  std::string author = StringField(body, "author");
  if (ValidateRepoId(author).ok() && author.find('/') == std::string::npos) result.author = author;
  result.gated = GatedField(body);
  result.is_private = BoolField(body, "private");
  result.disabled = BoolField(body, "disabled");
  result.created_at_ms = ParseIsoMillis(StringField(body, "createdAt")).value_or(0);
  result.last_modified_ms = ParseIsoMillis(StringField(body, "lastModified")).value_or(0);
  result.likes = IntegerField(body, "likes");
  result.config = ObjectField(body, "config");
  result.safetensors = ObjectField(body, "safetensors");
  return result;
}

std::vector<RemoteRef> ParseRefs(const nlohmann::json& body) {
  std::vector<RemoteRef> refs;
  if (!body.is_object()) return refs;
  constexpr std::pair<const char*, RefKind> kLists[] = {{"branches", RefKind::kBranch},
                                                        {"tags", RefKind::kTag},
                                                        {"pullRequests", RefKind::kPullRequest},
                                                        {"converts", RefKind::kConvert}};
  for (const auto& [key, kind] : kLists) {
    auto list = body.find(key);
    if (list == body.end() || !list->is_array()) continue;
    for (const auto& item : *list) {
      RemoteRef remote{{kind, StringField(item, "name")}, StringField(item, "targetCommit")};
      // The full name, when given, must agree with the list the ref is in.
      std::string full = StringField(item, "ref");
      if (!full.empty() && full != FullRefName(remote.ref)) continue;
      if (!ValidateRefName(remote.ref).ok() || !IsSha1Hex(remote.commit_id)) continue;
      refs.push_back(std::move(remote));
    }
  }
  return refs;
}

std::optional<BaseModels> ParseBaseModels(const nlohmann::json& body) {
  if (!body.is_object()) return std::nullopt;
  auto given = body.find("baseModels");
  if (given == body.end() || !given->is_object()) return std::nullopt;
  BaseModels base;
  base.relation = StringField(*given, "relation");
  if (auto models = given->find("models"); models != given->end() && models->is_array()) {
    for (const auto& model : *models) {
      std::string id = StringField(model, "id");
      if (!id.empty()) base.ids.push_back(std::move(id));
    }
  }
  if (base.ids.empty()) return std::nullopt;
  return base;
}

std::optional<RemoteCommit> ParseFirstCommit(const nlohmann::json& page) {
  if (!page.is_array() || page.empty() || !page[0].is_object()) return std::nullopt;
  const nlohmann::json& commit = page[0];
  RemoteCommit result;
  auto take = [](const nlohmann::json& object, const char* key, std::string* field) {
    std::string value = StringField(object, key);
    if (!value.empty()) *field = std::move(value);
  };
  take(commit, "title", &result.title);
  take(commit, "message", &result.message);
  if (auto authors = commit.find("authors");
      authors != commit.end() && authors->is_array() && !authors->empty()) {
    take((*authors)[0], "user", &result.author);
  }
  if (auto date = ParseIsoMillis(StringField(commit, "date"))) result.date_ms = *date;
  return result;
}

Result<RemoteEntry> ParseTreeEntry(const nlohmann::json& item) {
  if (!item.is_object()) return Corrupt("tree entry is not an object");
  std::string path = StringField(item, "path");
  Status valid_path = ValidateRepoPath(path);
  if (!valid_path.ok()) return Corrupt("upstream tree: " + valid_path.message());
  auto bad = [&](const std::string& why) {
    return Corrupt("upstream tree entry '" + path + "': " + why);
  };
  RemoteEntry entry;
  entry.path = path;
  std::string type = StringField(item, "type");
  if (type != "file" && type != "directory") return bad("unknown type '" + type + "'");
  entry.is_directory = type == "directory";
  entry.git_oid = StringField(item, "oid");
  if (!IsSha1Hex(entry.git_oid)) return bad("oid is not 40 lowercase hex digits");
  if (entry.is_directory) return entry;
  if (!item.contains("size") || !item["size"].is_number_unsigned()) return bad("no valid size");
  entry.size = item["size"].get<uint64_t>();
  if (auto lfs = item.find("lfs"); lfs != item.end() && !lfs->is_null()) {
    if (!lfs->is_object()) return bad("lfs is not an object");
    entry.lfs = true;
    entry.sha256 = StringField(*lfs, "oid");
    if (!IsSha256Hex(entry.sha256)) return bad("lfs.oid is not a SHA-256");
    if (!lfs->contains("size") || !(*lfs)["size"].is_number_unsigned() ||
        (*lfs)["size"].get<uint64_t>() != entry.size) {
      return bad("lfs.size differs from size");
    }
    auto pointer_size = lfs->find("pointerSize");
    if (pointer_size != lfs->end() && pointer_size->is_number_unsigned()) {
      entry.pointer_size = pointer_size->get<uint64_t>();
    }
    if (GitObjectId("blob", LfsPointer(entry.sha256, entry.size)) != entry.git_oid) {
      return bad("oid is not the git id of the LFS pointer for lfs.oid and size");
    }
  }
  return entry;
}

std::optional<RemoteModel> ParseListedModel(const nlohmann::json& item) {
  RemoteModel model;
  model.id = StringField(item, "id");
  if (!ValidateRepoId(model.id).ok()) return std::nullopt;
  model.downloads = IntegerField(item, "downloads");
  model.pipeline_tag = StringField(item, "pipeline_tag");
  model.library_name = StringField(item, "library_name");
  return model;
}

std::string NextLink(std::string_view header) {
  while (!header.empty()) {
    size_t open = header.find('<');
    size_t close = header.find('>', open);
    if (open == std::string_view::npos || close == std::string_view::npos) break;
    std::string_view target = header.substr(open + 1, close - open - 1);
    size_t end = header.find(',', close);
    std::string_view params =
        header.substr(close + 1, end == std::string_view::npos ? end : end - close - 1);
    if (params.find("rel=\"next\"") != std::string_view::npos ||
        params.find("rel=next") != std::string_view::npos) {
      return std::string(target);
    }
    if (end == std::string_view::npos) break;
    header.remove_prefix(end + 1);
  }
  return "";
}

}  // namespace hubmirror::sync
