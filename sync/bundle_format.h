#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
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
//               "commits": [{commit fields, "entries": [{entry fields}]}], oldest first
//               "lineage": [{"parent", "relation", "source", "inferred"}],
//               "pipeline_tag", "library_name", "downloads"}],
//    "blobs": [{"sha256", "size", "git_sha1", "offset"}]}   in the order of the volumes' stream
// Writers build it from registry rows; the reader below takes it from removable media and
// trusts nothing in it. Pure functions.

inline constexpr int kBundleFormat = 1;
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
  std::vector<BundleCommit> commits;        // oldest first
  std::vector<registry::LineageEdge> lineage;
  std::string pipeline_tag;
  std::string library_name;
  int64_t downloads = 0;
};

// The content of a bundle.json, checked.
struct BundleContent {
  uint64_t volume_size = 0;
  uint64_t bytes = 0;  // the length of the volumes' stream
  std::vector<BundleRepo> repos;
  std::vector<BundleBlob> blobs;
};

nlohmann::json EntryJson(const registry::Entry& entry);
nlohmann::json CommitJson(const registry::Commit& commit, nlohmann::json entries);
nlohmann::json BlobJson(const BundleBlob& blob);

// bundle.json's text taken apart into its content and signature, neither checked yet: kCorrupt
// ("malformed bundle.json: ...") when it is not JSON or not a signed bundle.
Result<SignedJson> OpenBundleDocument(std::string_view text);

// The content of a bundle, checked before anything of it is used: kCorrupt ("malformed bundle:
// ...", naming the part) for an unknown format, a field of the wrong type, a repo name, path,
// commit id or digest that is not valid, a zero volume size, or a blob outside the stream.
// Refs with an invalid branch name and lineage edges to an invalid parent are left out rather
// than refused.
Result<BundleContent> ParseBundleContent(const nlohmann::json& content);

}  // namespace hubmirror::sync
