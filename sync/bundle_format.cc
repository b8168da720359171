#include "sync/bundle_format.h"

#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <utility>

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

// Reads a count or a time, which may not be negative.
bool ReadNatural(const json& object, const char* key, int64_t* out) {
  return Read(object, key, out) && *out >= 0;
}

// Reads JSON text that must be empty or hold an object.
bool ReadObjectText(const json& object, const char* key, std::string* out) {
  return Read(object, key, out) && (out->empty() || json::parse(*out, nullptr, false).is_object());
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
      !Read(item, "library_name", &commit.library_name) ||
      !ReadObjectText(item, "config", &commit.config_json) ||
      !ReadObjectText(item, "safetensors", &commit.safetensors_json)) {
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

// The flags and details of a repo; false when one is invalid.
bool ParseRepoDetails(const json& item, BundleRepo* repo) {
  registry::RepoDetails& d = repo->details;
  return Read(item, "pipeline_tag", &repo->pipeline_tag) &&
         Read(item, "library_name", &repo->library_name) &&
         ReadNatural(item, "downloads", &d.downloads) && ReadNatural(item, "likes", &d.likes) &&
         Read(item, "author", &d.author) &&
         (d.author.empty() ||
          (ValidateRepoId(d.author).ok() && d.author.find('/') == std::string::npos)) &&
         Read(item, "object_id", &d.object_id) &&
         (d.object_id.empty() || IsLowerHex(d.object_id, 24)) && Read(item, "gated", &d.gated) &&
         (d.gated == "false" || d.gated == "auto" || d.gated == "manual") &&
         Read(item, "private", &d.is_private) && Read(item, "disabled", &d.disabled) &&
         ReadNatural(item, "created_at", &d.created_at_ms) &&
         ReadNatural(item, "last_modified", &d.last_modified_ms);
}

// The refs of every kind; false when a field that holds them is not an object. Bundles written
// before tags, pull requests and conversions travelled have only the branches.
bool ParseRefs(const json& item, BundleRepo* repo) {
  for (const auto& [key, kind] : kBundleRefFields) {
    auto field = item.find(key);
    if (field == item.end()) continue;
    if (!field->is_object()) return false;
    for (const auto& [name, commit] : field->items()) {
      RefName ref{kind, name};
      if (!ValidateRefName(ref).ok() || !commit.is_string()) continue;
      if (kind == RefKind::kBranch) {
        repo->refs[name] = commit.get<std::string>();
      } else {
        repo->other_refs[std::move(ref)] = commit.get<std::string>();
      }
    }
  }
  return true;
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
  if (!Read(item, "default_branch", &repo->default_branch) || !ParseRepoDetails(item, repo) ||
      !ParseRefs(item, repo) || (item.contains("lineage") && !lineage)) {
    return Malformed("an invalid field in repo " + repo->name);
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
          {"config", commit.config_json},
          {"safetensors", commit.safetensors_json},
          {"entries", std::move(entries)}};
}

json RefsJson(const std::vector<registry::Ref>& refs) {
  json fields = json::object();
  for (const auto& [key, kind] : kBundleRefFields) {
    json& field = fields[key] = json::object();
    for (const auto& ref : refs) {
      if (ref.kind == kind) field[ref.name] = ref.commit_id;
    }
  }
  return fields;
}

json RepoDetailsJson(const registry::Repo& repo) {
  // The reader refuses negative counts and times, which no Hub states: one that did must not
  // make the bundle unreadable.
  auto natural = [](int64_t value) { return std::max<int64_t>(value, 0); };
  return {{"pipeline_tag", repo.pipeline_tag},
          {"library_name", repo.library_name},
          {"downloads", natural(repo.downloads)},
          {"likes", natural(repo.likes)},
          {"author", repo.author},
          {"object_id", repo.object_id},
          {"gated", repo.gated},
          {"private", repo.is_private},
          {"disabled", repo.disabled},
          {"created_at", natural(repo.created_at_ms)},
          {"last_modified", natural(repo.last_modified_ms)}};
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
