#include "sync/bundle_format.h"

#include <cstdint>
#include <type_traits>

#include "common/digest.h"

namespace hubmirror::sync {
namespace {

using nlohmann::json;

Status Malformed(const std::string& why) { return Corrupt("malformed bundle: " + why); }

// Reads `object[key]` into `out` when present; false when it is there with another type. A
// missing field leaves `out` as it was: callers check the fields that must be there.
template <typename T>
bool Read(const json& object, const char* key, T* out) {
  auto field = object.find(key);
  if (field == object.end()) return true;
  if constexpr (std::is_same_v<T, std::string>) {
    if (!field->is_string()) return false;
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!field->is_boolean()) return false;
  } else if constexpr (std::is_same_v<T, uint64_t>) {
    bool natural =
        field->is_number_unsigned() || (field->is_number_integer() && field->get<int64_t>() >= 0);
    if (!natural) return false;
  } else {
    static_assert(std::is_same_v<T, int64_t>);
    if (!field->is_number_integer() ||
        (field->is_number_unsigned() && field->get<uint64_t>() > INT64_MAX)) {
      return false;
    }
  }
  *out = field->get<T>();
  return true;
}

// The array at `object[key]`; null when it is absent or not an array.
const json* ArrayField(const json& object, const char* key) {
  auto field = object.find(key);
  return field != object.end() && field->is_array() ? &*field : nullptr;
}

bool ParseEntry(const json& item, registry::Entry* entry) {
  std::string type;
  if (!item.is_object() || !Read(item, "type", &type) || !Read(item, "path", &entry->path) ||
      !Read(item, "size", &entry->size) || !Read(item, "git_oid", &entry->git_oid) ||
      !Read(item, "sha256", &entry->sha256) || !Read(item, "lfs", &entry->lfs) ||
      !Read(item, "pointer_size", &entry->pointer_size) ||
      !Read(item, "last_commit_id", &entry->last_commit_id)) {
    return false;
  }
  entry->is_directory = type == "directory";
  if (entry->is_directory) entry->sha256.clear();
  return (type == "file" || type == "directory") && ValidateRepoPath(entry->path).ok() &&
         (entry->is_directory || IsSha256Hex(entry->sha256));
}

Status ParseCommit(const json& item, const std::string& repo, BundleCommit* parsed) {
  registry::Commit& commit = parsed->commit;
  const json* entries = item.is_object() ? ArrayField(item, "entries") : nullptr;
  if (entries == nullptr || !Read(item, "id", &commit.id) || !IsSha1Hex(commit.id)) {
    return Malformed("a commit of " + repo + " without id or entries");
  }
  const json* tags = ArrayField(item, "tags");  // anything else there is no tag
  if (!Read(item, "parent_id", &commit.parent_id) || !Read(item, "tree_id", &commit.tree_id) ||
      !Read(item, "title", &commit.title) || !Read(item, "message", &commit.message) ||
      !Read(item, "author", &commit.author) || !Read(item, "date", &commit.date_ms) ||
      !Read(item, "card_data", &commit.card_data_json) ||
      !Read(item, "pipeline_tag", &commit.pipeline_tag) ||
      !Read(item, "library_name", &commit.library_name)) {
    return Malformed("an invalid field in commit " + repo + "@" + commit.id);
  }
  for (size_t i = 0; tags != nullptr && i < tags->size(); ++i) {
    if ((*tags)[i].is_string()) commit.tags.push_back((*tags)[i].get<std::string>());
  }
  for (const auto& item_entry : *entries) {
    registry::Entry entry;
    if (!ParseEntry(item_entry, &entry)) {
      return Malformed("an invalid entry in " + repo + "@" + commit.id);
    }
    parsed->entries.push_back(std::move(entry));
  }
  return Status::Ok();
}

Status ParseRepo(const json& item, BundleRepo* repo) {
  std::string type;
  const json* commits = item.is_object() ? ArrayField(item, "commits") : nullptr;
  auto refs = commits != nullptr ? item.find("refs") : item.end();
  if (commits == nullptr || refs == item.end() || !refs->is_object() ||
      !Read(item, "type", &type) || !ParseRepoType(type, &repo->type) ||
      !Read(item, "name", &repo->name) || !ValidateRepoId(repo->name).ok()) {
    return Malformed("a repo without a valid type, name, refs or commits");
  }
  const json* lineage = item.contains("lineage") ? ArrayField(item, "lineage") : nullptr;
  if (!Read(item, "default_branch", &repo->default_branch) ||
      !Read(item, "pipeline_tag", &repo->pipeline_tag) ||
      !Read(item, "library_name", &repo->library_name) ||
      !Read(item, "downloads", &repo->downloads) || (item.contains("lineage") && !lineage)) {
    return Malformed("an invalid field in repo " + repo->name);
  }
  for (const auto& [branch, commit] : refs->items()) {
    if (ValidateRevisionName(branch).ok() && commit.is_string()) {
      repo->refs[branch] = commit.get<std::string>();
    }
  }
  for (const auto& item_commit : *commits) {
    BundleCommit commit;
    HM_RETURN_IF_ERROR(ParseCommit(item_commit, repo->name, &commit));
    repo->commits.push_back(std::move(commit));
  }
  for (size_t i = 0; lineage != nullptr && i < lineage->size(); ++i) {
    const json& item_edge = (*lineage)[i];
    registry::LineageEdge edge;
    edge.child = repo->name;
    if (!item_edge.is_object() || !Read(item_edge, "parent", &edge.parent) ||
        !Read(item_edge, "relation", &edge.relation) || !Read(item_edge, "source", &edge.source) ||
        !Read(item_edge, "inferred", &edge.inferred)) {
      return Malformed("an invalid lineage edge of " + repo->name);
    }
    if (ValidateRepoId(edge.parent).ok()) repo->lineage.push_back(std::move(edge));
  }
  return Status::Ok();
}

Status ParseBlob(const json& item, uint64_t stream_bytes, BundleBlob* blob) {
  if (!item.is_object() || !item.contains("size") || !item.contains("offset") ||
      !Read(item, "sha256", &blob->sha256) || !IsSha256Hex(blob->sha256) ||
      !Read(item, "size", &blob->size) || !Read(item, "offset", &blob->offset) ||
      !Read(item, "git_sha1", &blob->git_sha1) ||
      (!blob->git_sha1.empty() && !IsSha1Hex(blob->git_sha1))) {
    return Malformed("an invalid blob");
  }
  // Written so that it cannot overflow: offset + size may not fit in 64 bits.
  if (blob->offset > stream_bytes || blob->size > stream_bytes - blob->offset) {
    return Malformed("blob " + blob->sha256 + " lies past the volumes' end");
  }
  return Status::Ok();
}

}  // namespace

json EntryJson(const registry::Entry& entry) {
  return {{"path", entry.path},
          {"type", entry.is_directory ? "directory" : "file"},
          {"size", entry.size},
          {"git_oid", entry.git_oid},
          {"sha256", entry.sha256},
          {"lfs", entry.lfs},
          {"pointer_size", entry.pointer_size},
          {"last_commit_id", entry.last_commit_id}};
}

json CommitJson(const registry::Commit& commit, json entries) {
  return {{"id", commit.id},
          {"parent_id", commit.parent_id},
          {"tree_id", commit.tree_id},
          {"title", commit.title},
          {"message", commit.message},
          {"author", commit.author},
          {"date", commit.date_ms},
          {"card_data", commit.card_data_json},
          {"tags", commit.tags},
          {"pipeline_tag", commit.pipeline_tag},
          {"library_name", commit.library_name},
          {"entries", std::move(entries)}};
}

json BlobJson(const BundleBlob& blob) {
  return {{"sha256", blob.sha256},
          {"size", blob.size},
          {"git_sha1", blob.git_sha1},
          {"offset", blob.offset}};
}

Result<SignedJson> OpenBundleDocument(std::string_view text) {
  json document = json::parse(text, nullptr, false);
  if (document.is_discarded()) return Corrupt("malformed " + std::string(kBundleFile));
  auto opened = SignedJson::Open(std::move(document), "bundle");
  if (!opened.ok()) {
    return Corrupt("malformed " + std::string(kBundleFile) + ": " + opened.status().message());
  }
  return opened;
}

Result<BundleContent> ParseBundleContent(const json& content) {
  int64_t format = 0;
  if (!content.is_object() || !Read(content, "format", &format) || format != kBundleFormat) {
    return Malformed("unknown format");
  }
  const json* repos = ArrayField(content, "repos");
  const json* blobs = ArrayField(content, "blobs");
  if (repos == nullptr || blobs == nullptr) return Malformed("no repos or blobs");
  BundleContent bundle;
  if (!content.contains("volume_size") || !Read(content, "volume_size", &bundle.volume_size) ||
      bundle.volume_size == 0) {
    return Malformed("no volume size");
  }
  if (!Read(content, "bytes", &bundle.bytes)) return Malformed("an invalid stream length");
  for (const auto& item : *repos) {
    BundleRepo repo;
    HM_RETURN_IF_ERROR(ParseRepo(item, &repo));
    bundle.repos.push_back(std::move(repo));
  }
  for (const auto& item : *blobs) {
    BundleBlob blob;
    HM_RETURN_IF_ERROR(ParseBlob(item, bundle.bytes, &blob));
    bundle.blobs.push_back(std::move(blob));
  }
  return bundle;
}

}  // namespace hubmirror::sync
