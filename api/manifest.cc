#include "api/manifest.h"

#include "common/clock.h"
#include "common/signed_json.h"

namespace hubmirror::api {

Result<nlohmann::json> SignedManifest(registry::Registry& registry, const SigningKey& key,
                                      RepoType type, const std::string& repo,
                                      const std::string& revision) {
  registry::ReadSnapshot snapshot(registry);
  HM_RETURN_IF_ERROR(snapshot.status());
  auto found = registry.FindRepo(type, repo);
  if (!found.ok()) return found.status();
  auto commit = registry.ResolveRevision(*found, revision);
  if (!commit.ok()) return commit.status();
  auto entries = registry.ListEntries(*found, commit->id, "");
  if (!entries.ok()) return entries.status();
  nlohmann::json files = nlohmann::json::array();
  for (const auto& entry : *entries) {
    if (entry.is_directory) continue;
    if (entry.blob_state == registry::BlobState::kAbsent) {
      return Status(StatusCode::kFailedPrecondition,
                    std::string(RepoTypeName(type)) + " " + found->name + "@" + commit->id + " " +
                        entry.path +
                        " is not stored yet (pull-through fetches it when asked for): a manifest "
                        "is signed once every file of the revision is stored and verified");
    }
    files.push_back({{"path", entry.path},
                     {"size", entry.size},
                     {"sha256", entry.sha256},
                     {"git_oid", entry.git_oid},
                     {"lfs", entry.lfs}});
  }
  nlohmann::json manifest = {{"repo", found->name},
                             {"type", std::string(RepoTypeName(type))},
                             {"commit", commit->id},
                             {"files", std::move(files)},
                             {"generated_at", FormatIsoMillis(NowUnixMillis())}};
  return SignJson(key, "manifest", std::move(manifest));
}

Result<nlohmann::json> VerifiedManifest(const nlohmann::json& document, const SigningKey& key) {
  auto signed_manifest = SignedJson::Open(document, "manifest");
  if (!signed_manifest.ok()) return signed_manifest.status();
  if (signed_manifest->key_id() != key.key_id()) {
    return Status(StatusCode::kCorrupt, "the manifest was signed by key " +
                                            signed_manifest->key_id() + ", not by the given key " +
                                            key.key_id());
  }
  if (!signed_manifest->VerifiedBy(key)) {
    return Status(StatusCode::kCorrupt,
                  "the manifest's signature does not match its content: it was altered, or "
                  "not signed by key " +
                      key.key_id());
  }
  const nlohmann::json& manifest = signed_manifest->payload();
  if (!manifest.contains("files") || !manifest["files"].is_array()) {
    return Status(StatusCode::kCorrupt, "the manifest has no file list");
  }
  return manifest;
}

}  // namespace hubmirror::api
