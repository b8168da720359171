// Fuzzes the reading of bundle.json, which comes from removable media: any input must give an
// error or a bundle whose names, paths, digests and blobs are valid, never a crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/digest.h"
#include "sync/bundle_format.h"

namespace {

// A public key no input can have signed for: verification must simply say no.
constexpr std::string_view kPublicKey =
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VwAyEAgMl8fQyRiG+3R6o6W7YJ09hVA6y461yh/kM9uLv8A9c=\n"
    "-----END PUBLIC KEY-----\n";

void CheckAccepted(const hubmirror::sync::BundleContent& bundle) {
  if (bundle.volume_size == 0) std::abort();
  for (const auto& repo : bundle.repos) {
    if (!hubmirror::ValidateRepoId(repo.name).ok()) std::abort();
    for (const auto& [ref, commit] : repo.other_refs) {
      if (!hubmirror::ValidateRefName(ref).ok()) std::abort();
    }
    const auto& details = repo.details;
    if (details.gated != "false" && details.gated != "auto" && details.gated != "manual") {
      std::abort();
    }
    if (!details.object_id.empty() && !hubmirror::IsLowerHex(details.object_id, 24)) std::abort();
    if (details.downloads < 0 || details.likes < 0 || details.created_at_ms < 0 ||
        details.last_modified_ms < 0) {
      std::abort();
    }
    for (const auto& commit : repo.commits) {
      if (!hubmirror::IsSha1Hex(commit.commit.id)) std::abort();
      for (const auto& entry : commit.entries) {
        if (!hubmirror::ValidateRepoPath(entry.path).ok()) std::abort();
        if (!entry.is_directory && !hubmirror::IsSha256Hex(entry.sha256)) std::abort();
      }
    }
  }
  for (const auto& blob : bundle.blobs) {
    if (!hubmirror::IsSha256Hex(blob.sha256) || blob.offset > bundle.bytes ||
        blob.size > bundle.bytes - blob.offset) {
      std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto key = hubmirror::SigningKey::FromPublicPem(kPublicKey).value();
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto document = hubmirror::sync::OpenBundleDocument(text);
  if (!document.ok()) return 0;
  if (document->VerifiedBy(*key)) std::abort();
  auto bundle = hubmirror::sync::ParseBundleContent(document->payload());
  if (bundle.ok()) CheckAccepted(*bundle);
  return 0;
}
