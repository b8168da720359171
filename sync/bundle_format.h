#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/names.h"
#include "common/signed_json.h"
#include "common/status.h"
#include "registry/registry.h"

namespace hubmirror::sync {

// bundle.json, the signed description of a bundle (see sync/bundle.h): a SignedJson of kind
// "bundle" whose content is
//   {"format": 1, "created_at", "key_id", "volume_size", "volumes", "bytes",
//    "repos": [{"type", "name", "default_branch", "refs": {branch: commit id},
//               "tags": {tag: commit id}, "pull_requests": {number: commit id},
//               "converts": {name: commit id},
//               "commits": [{commit fields, "entries": [{entry fields}]}], oldest first
//               "lineage": [{"parent", "relation", "source", "inferred"}],
//               "pipeline_tag", "library_name", "downloads", "likes", "author", "object_id",
//               "gated", "private", "disabled", "created_at", "last_modified"}],
//    "blobs": [{"sha256", "size", "git_sha1", "offset"}]}   in the order of the volumes' stream
// Refs are by short name ("v1.0", "16" for refs/pr/16, "parquet" for refs/convert/parquet); the
// commits are every one they reach. A repo's flags are the registry's: "gated" is "false",
// "auto" or "manual", "object_id" the Hub's 24-hex `_id`, "created_at" and "last_modified" Unix
// milliseconds. A commit's "card_data", "config" and "safetensors" are JSON text ("" for none).
// Bundles written before refs other than branches and the flags travelled lack those fields:
// their repos read as having no such refs and the flags' defaults.
// Writers build it from registry rows; the reader below takes it from removable media and
// trusts nothing in it. Pure functions.

inline constexpr int kBundleFormat = 1;
// The repo fields that hold refs, by kind; branches keep the field of the first format.
inline constexpr std::pair<const char*, RefKind> kBundleRefFields[] = {
    {"refs", RefKind::kBranch},
    {"tags", RefKind::kTag},
    {"pull_requests", RefKind::kPullRequest},
    {"converts", RefKind::kConvert}};
inline constexpr const char* kBundleFile = "bundle.json";

// One blob of the volumes' stream: its bytes are [offset, offset + size) of the stream.
struct BundleBlob {
  std::string sha256;
  uint64_t size = 0;
  std::string git_sha1;  // empty when unknown
  uint64_t offset = 0;
};

struct BundleCommit {
  registry::Commit commit;
  std::vector<registry::Entry> entries;
};

struct BundleRepo {
  RepoType type = RepoType::kModel;
  std::string name;
  std::string default_branch = "main";
  std::map<std::string, std::string> refs;  // branch -> commit id
  // Tags, pull requests and conversions -> commit id.
  std::map<RefName, std::string> other_refs;
  std::vector<BundleCommit> commits;  // oldest first
  std::vector<registry::LineageEdge> lineage;
  std::string pipeline_tag;
  std::string library_name;
  // The repo's flags and details, downloads included (its `commit` is not read from the repo:
  // each commit carries its own).
  registry::RepoDetails details;
};

// The content of a bundle.json, checked.
struct BundleContent {
  uint64_t volume_size = 0;
  uint64_t bytes = 0;  // the length of the volumes' stream
  std::vector<BundleRepo> repos;
  std::vector<BundleBlob> blobs;
};

nlohmann::json EntryJson(const registry::Entry& entry);
// A repo's ref fields ("refs", "tags", "pull_requests", "converts", each present) and its flag
// and detail fields (from "pipeline_tag" to "last_modified"), to merge into its repo object.
nlohmann::json RefsJson(const std::vector<registry::Ref>& refs);
nlohmann::json RepoDetailsJson(const registry::Repo& repo);
nlohmann::json CommitJson(const registry::Commit& commit, nlohmann::json entries);
nlohmann::json BlobJson(const BundleBlob& blob);

// bundle.json's text taken apart into its content and signature, neither checked yet: kCorrupt
// ("malformed bundle.json: ...") when it is not JSON or not a signed bundle.
Result<SignedJson> OpenBundleDocument(std::string_view text);

// The content of a bundle, checked before anything of it is used: kCorrupt ("malformed bundle:
// ...", naming the part) for an unknown format, a field of the wrong type, a repo name, path,
// commit id or digest that is not valid, a gated value other than the three, an object id that
// is not 24 lowercase hex digits, an author that is not a namespace, a negative count or time, a
// config or safetensors that is not a JSON object, a zero volume size, or a blob outside the
// stream. Refs with an invalid name for their kind (or a commit that is not text) and lineage
// edges to an invalid parent are left out rather than refused.
Result<BundleContent> ParseBundleContent(const nlohmann::json& content);

}  // namespace hubmirror::sync
