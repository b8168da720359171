#include "common/signed_json.h"

#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <cctype>
#include <iterator>

#include "tests/support/temp_dir.h"

namespace hubmirror {
namespace {

using nlohmann::json;
using testing::TempDir;

// A manifest-like payload with what JSON serialization can get wrong: non-ASCII text, escapes,
// large integers, nesting, keys out of order.
json Payload() {
  return {{"repo", "acme/modèle-日本語"},
          {"commit", "0123456789abcdef0123456789abcdef01234567"},
          {"files",
           {{{"path", "dir/quote\"back\\slash\ttab.bin"},
             {"size", 18446744073709551615ull},
             {"sha256", std::string(64, 'a')},
             {"lfs", true}},
            {{"path", "emoji 🤗.txt"}, {"size", 0}, {"lfs", false}, {"git_oid", nullptr}}}},
          {"generated_at", "2024-05-01T12:00:00.000Z"},
          {"downloads", -42}};
}

struct Keys {
  TempDir dir;
  std::shared_ptr<const SigningKey> signer = LoadOrCreate(dir / "signer.pem");
  std::shared_ptr<const SigningKey> other = LoadOrCreate(dir / "other.pem");
  std::shared_ptr<const SigningKey> signer_public =
      SigningKey::FromPublicPem(signer->PublicPem()).value();

  static std::shared_ptr<const SigningKey> LoadOrCreate(const std::filesystem::path& path) {
    auto key = SigningKey::LoadOrCreate(path);
    REQUIRE(key.ok());
    return key.value();
  }
};

// The document after a trip through its text, as a reader gets it.
Result<SignedJson> Reread(const json& document, const std::string& kind, int indent = 2) {
  return SignedJson::Open(json::parse(document.dump(indent)), kind);
}

TEST_CASE("a signed document verifies with the signer's public key", "[signed_json]") {
  Keys keys;
  auto document = SignJson(*keys.signer, "manifest", Payload());
  REQUIRE(document.ok());
  CHECK((*document)["manifest"]["key_id"] == keys.signer->key_id());
  CHECK((*document)["signature"].is_string());
  for (int indent : {-1, 1, 2, 4}) {
    auto opened = Reread(*document, "manifest", indent);
    REQUIRE(opened.ok());
    CHECK(opened->key_id() == keys.signer->key_id());
    CHECK(opened->VerifiedBy(*keys.signer_public));
    CHECK(opened->VerifiedBy(*keys.signer));
    CHECK_FALSE(opened->VerifiedBy(*keys.other));
    CHECK(opened->payload() == (*document)["manifest"]);
  }
}

TEST_CASE("a tampered byte is refused", "[signed_json]") {
  Keys keys;
  auto document = SignJson(*keys.signer, "bundle", Payload());
  REQUIRE(document.ok());
  std::string text = document->dump();
  REQUIRE(Reread(json::parse(text), "bundle").value().VerifiedBy(*keys.signer_public));
  // Each byte of every string value and number of the payload, changed in the document's text.
  size_t changed = 0;
  for (size_t i = text.find("\"bundle\""); i < text.find("\"signature\""); ++i) {
    if (!std::isalnum(static_cast<unsigned char>(text[i]))) continue;
    std::string tampered = text;
    tampered[i] = std::isdigit(static_cast<unsigned char>(text[i])) ? (text[i] == '1' ? '2' : '1')
                                                                    : (text[i] == 'a' ? 'b' : 'a');
    json parsed = json::parse(tampered, nullptr, false);
    if (parsed.is_discarded()) continue;
    auto opened = SignedJson::Open(std::move(parsed), "bundle");
    // A changed key name can take the document apart; a changed value must fail the signature.
    if (!opened.ok()) continue;
    INFO("byte " << i << " of " << text);
    CHECK_FALSE(opened->VerifiedBy(*keys.signer_public));
    ++changed;
  }
  CHECK(changed > 100);

  json bad_signature = *document;
  std::string signature = bad_signature["signature"];
  signature[3] = signature[3] == 'A' ? 'B' : 'A';
  bad_signature["signature"] = signature;
  CHECK_FALSE(Reread(bad_signature, "bundle").value().VerifiedBy(*keys.signer_public));

  json claimed_by_other = *document;
  claimed_by_other["bundle"]["key_id"] = keys.other->key_id();
  CHECK_FALSE(Reread(claimed_by_other, "bundle").value().VerifiedBy(*keys.other));
  CHECK_FALSE(Reread(claimed_by_other, "bundle").value().VerifiedBy(*keys.signer));
}

TEST_CASE("documents signed by the earlier code paths still verify", "[signed_json]") {
  Keys keys;
  SECTION("a manifest: the signature of its plain dump(), printed with dump(2)") {
    json manifest = Payload();
    manifest["key_id"] = keys.signer->key_id();
    auto signature = keys.signer->Sign(manifest.dump());
    REQUIRE(signature.ok());
    json document{{"manifest", manifest}, {"signature", *signature}};
    auto opened = Reread(document, "manifest");
    REQUIRE(opened.ok());
    CHECK(opened->VerifiedBy(*keys.signer_public));
  }
  SECTION("a bundle: signed and written with invalid UTF-8 replaced") {
    json bundle = Payload();
    bundle["message"] = std::string("latin-1 caf\xe9 and a stray \xff byte");
    bundle["key_id"] = keys.signer->key_id();
    auto signature = keys.signer->Sign(bundle.dump(-1, ' ', false, json::error_handler_t::replace));
    REQUIRE(signature.ok());
    json document{{"bundle", bundle}, {"signature", *signature}};
    std::string text = document.dump(1, ' ', false, json::error_handler_t::replace);
    auto opened = SignedJson::Open(json::parse(text), "bundle");
    REQUIRE(opened.ok());
    CHECK(opened->VerifiedBy(*keys.signer_public));
  }
}

TEST_CASE("the canonical form", "[signed_json]") {
  // For valid UTF-8, nlohmann's plain dump(): compact, keys sorted, non-ASCII unescaped.
  json value = Payload();
  CHECK(CanonicalJson(value) == value.dump());
  CHECK(CanonicalJson(json{{"b", 1}, {"a", "é"}}) == "{\"a\":\"é\",\"b\":1}");
  // Invalid UTF-8 is replaced rather than thrown on.
  CHECK(CanonicalJson(json(std::string("a\xff"))) == "\"a\xef\xbf\xbd\"");
}

TEST_CASE("what is not a signed document is refused by its shape", "[signed_json]") {
  std::string id = std::string(16, 'a');
  auto text = GENERATE_COPY(values<std::string>({
      "[]",
      "\"manifest\"",
      "{}",
      "{\"signature\": \"c2ln\"}",
      "{\"manifest\": {\"key_id\": \"" + id + "\"}}",
      "{\"manifest\": [], \"signature\": \"c2ln\"}",
      "{\"manifest\": {\"key_id\": \"" + id + "\"}, \"signature\": 12}",
      "{\"manifest\": {}, \"signature\": \"c2ln\"}",
      "{\"manifest\": {\"key_id\": 7}, \"signature\": \"c2ln\"}",
      "{\"manifest\": {\"key_id\": \"k\"}, \"signature\": \"c2ln\"}",
      "{\"manifest\": {\"key_id\": \"" + id + "\\nforged line\"}, \"signature\": \"c2ln\"}",
      "{\"bundle\": {\"key_id\": \"" + id + "\"}, \"signature\": \"c2ln\"}",
  }));
  INFO(text);
  auto opened = SignedJson::Open(json::parse(text), "manifest");
  REQUIRE_FALSE(opened.ok());
  CHECK(opened.status().code() == StatusCode::kCorrupt);
  CHECK(opened.status().message().find("not a signed manifest") == 0);
}

TEST_CASE("only objects are signed, and only by private keys", "[signed_json]") {
  Keys keys;
  CHECK(SignJson(*keys.signer, "manifest", json::array()).status().code() ==
        StatusCode::kInvalidArgument);
  CHECK(SignJson(*keys.signer_public, "manifest", Payload()).status().code() ==
        StatusCode::kFailedPrecondition);
}

TEST_CASE("a signing key is created once, readable by its owner only", "[signing]") {
  TempDir dir;
  auto created = SigningKey::LoadOrCreate(dir / "key.pem");
  REQUIRE(created.ok());
  struct stat info {};
  REQUIRE(::stat((dir / "key.pem").c_str(), &info) == 0);
  CHECK((info.st_mode & 0777) == 0600);
  auto loaded = SigningKey::LoadOrCreate(dir / "key.pem");
  REQUIRE(loaded.ok());
  CHECK((*loaded)->key_id() == (*created)->key_id());
  // No temporary file left beside it.
  CHECK(std::distance(std::filesystem::directory_iterator(dir.path()),
                      std::filesystem::directory_iterator()) == 1);
}

}  // namespace
}  // namespace hubmirror
