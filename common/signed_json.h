#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "common/signing.h"
#include "common/status.h"

namespace hubmirror {

// Signed JSON documents, the one form of integrity manifests and bundles:
//   {"<kind>": {..., "key_id": "<the signer's key id>"}, "signature": "<base64 Ed25519>"}
// What is signed is CanonicalJson of the <kind> object, not the document's text, so a document
// re-indented or with its keys reordered by whoever carried it still verifies, and what is
// verified is exactly what the reader goes on to use.

// The bytes that are signed: compact, object keys sorted, non-ASCII characters as UTF-8 (not
// escaped), bytes that are not UTF-8 replaced by U+FFFD. For valid UTF-8, all that a parsed
// document holds, these are the bytes of nlohmann's plain dump(), so manifests signed over dump()
// verify, as do bundles signed over dump(-1, ' ', false, replace). A writer whose payload may hold
// invalid UTF-8 writes the document with the same replacement, so that it reads back as signed.
std::string CanonicalJson(const nlohmann::json& value);

// {kind: payload with "key_id" set to key's id, "signature": key's signature of it}.
// kInvalidArgument when `payload` is not an object, kFailedPrecondition for a public-only key.
Result<nlohmann::json> SignJson(const SigningKey& key, const std::string& kind,
                                nlohmann::json payload);

// A signed document taken apart for checking. Immutable; safe to share between threads.
class SignedJson {
 public:
  // kCorrupt, naming the expected form, unless `document` is an object holding a <kind> object
  // with a "key_id" (the form of SigningKey::key_id), and a string "signature".
  static Result<SignedJson> Open(nlohmann::json document, const std::string& kind);

  // The signed object; nothing of it is vouched for before VerifiedBy returned true.
  const nlohmann::json& payload() const { return payload_; }
  // The id of the key the document names as its signer.
  const std::string& key_id() const { return key_id_; }
  // True when `key` is the named signer and its signature matches the payload.
  bool VerifiedBy(const SigningKey& key) const;

 private:
  SignedJson(nlohmann::json payload, std::string signature);

  nlohmann::json payload_;
  std::string signature_;
  std::string key_id_;
  std::string signed_bytes_;
};

}  // namespace hubmirror
