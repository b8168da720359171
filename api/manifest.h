#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "common/names.h"
#include "common/signing.h"
#include "common/status.h"
#include "registry/registry.h"

namespace hubmirror::api {

// Signed manifests of revisions, shared by the HTTP API, `hubmirror manifest` and
// `hubmirror check`. A document is {"manifest": {repo, type, commit, files: [{path, size, sha256,
// git_oid, lfs}], generated_at, key_id}, "signature": base64 Ed25519 signature}, a SignedJson
// (common/signed_json.h), so any holder of the public key can check it after parsing. Pure
// functions apart from the registry reads.

// The signed manifest of `repo` at `revision`: kRepoNotFound / kRevisionNotFound when unknown;
// kFailedPrecondition for a revision pull-through recorded whose content is not all stored yet
// (the mirror signs only digests it has verified).
Result<nlohmann::json> SignedManifest(registry::Registry& registry, const SigningKey& key,
                                      RepoType type, const std::string& repo,
                                      const std::string& revision);

// The manifest of a document whose signature `key` verifies; kCorrupt naming what is wrong (the
// shape, another key's id, or a signature that does not match).
Result<nlohmann::json> VerifiedManifest(const nlohmann::json& document, const SigningKey& key);

}  // namespace hubmirror::api
