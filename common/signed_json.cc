#include "common/signed_json.h"

#include <utility>

#include "common/digest.h"
#include "common/json_text.h"

namespace hubmirror {

using nlohmann::json;

std::string CanonicalJson(const json& value) { return CompactJson(value); }

Result<json> SignJson(const SigningKey& key, const std::string& kind, json payload) {
  if (!payload.is_object()) return InvalidArgument("only a JSON object can be signed as " + kind);
  payload["key_id"] = key.key_id();
  auto signature = key.Sign(CanonicalJson(payload));
  if (!signature.ok()) return signature.status();
  return json{{kind, std::move(payload)}, {"signature", std::move(signature.value())}};
}

Result<SignedJson> SignedJson::Open(json document, const std::string& kind) {
  auto payload = document.is_object() ? document.find(kind) : document.end();
  auto signature = document.is_object() ? document.find("signature") : document.end();
  if (payload == document.end() || !payload->is_object() || signature == document.end() ||
      !signature->is_string() || !payload->contains("key_id") ||
      !payload->find("key_id")->is_string() ||
      !IsLowerHex(payload->find("key_id")->get<std::string>(), SigningKey::kKeyIdDigits)) {
    return Corrupt("not a signed " + kind + ": {\"" + kind +
                   "\": {..., \"key_id\"}, \"signature\"} expected");
  }
  return SignedJson(std::move(*payload), signature->get<std::string>());
}

SignedJson::SignedJson(json payload, std::string signature)
    : payload_(std::move(payload)),
      signature_(std::move(signature)),
      key_id_(payload_.value("key_id", "")),
      signed_bytes_(CanonicalJson(payload_)) {}

bool SignedJson::VerifiedBy(const SigningKey& key) const {
  return key.key_id() == key_id_ && key.Verify(signed_bytes_, signature_);
}

}  // namespace hubmirror
