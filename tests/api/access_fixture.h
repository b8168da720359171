#pragma once

// A real registry and store with repos and people around them, and requests sent through Dispatch
// as their tokens: what the access and admin tests share.
#include <catch2/catch.hpp>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "api/dispatch.h"
#include "common/tokens.h"
#include "sync/local_import.h"
#include "tests/fakes/mirror_fixture.h"

namespace hubmirror::api {

// Four repos (public, gated manual, gated auto, private to the organization "team") and the
// people around them, each user with a read token (the owner of "up" also has a write token; "boss"
// is a server admin). Not thread-safe; one per test.
struct AccessFixture : hubmirror::testing::MirrorFixture {
  AccessFixture() {
    for (const char* repo : {"up/open", "up/gated", "up/auto", "team/secret"}) {
      std::filesystem::path source = dir / "src" / repo;
      hubmirror::testing::WriteFile(
          source / "README.md",
          "---\nextra_gated_prompt: Use it kindly\n---\n# " + std::string(repo) + "\n");
      hubmirror::testing::WriteFile(source / "model.safetensors", std::string(1000, 'w'));
      sync::ImportOptions options;
      options.repo = repo;
      options.source = source;
      REQUIRE(sync::ImportFolder(*local_store, *registry, options).ok());
    }
    Set("up/gated", {std::nullopt, "manual"});
    Set("up/auto", {std::nullopt, "auto"});
    Set("team/secret", {true, std::nullopt});
    for (const char* org : {"up", "team"}) REQUIRE(registry->AddOrg(org).ok());
    for (const char* user : {"outsider", "granted", "member", "owner", "boss"}) {
      REQUIRE(registry->AddUser(user, std::string(user) == "boss", false).ok());
      tokens[user] = NewToken(user, "read", registry::TokenScope::kRead);
    }
    REQUIRE(registry->SetOrgMember("team", "member", registry::OrgRole::kRead).ok());
    REQUIRE(registry->SetOrgMember("up", "owner", registry::OrgRole::kAdmin).ok());
    tokens["owner-write"] = NewToken("owner", "write", registry::TokenScope::kWrite);
    for (const char* repo : {"up/gated", "team/secret"}) {
      REQUIRE(registry
                  ->DecideAccess(RepoType::kModel, repo, "granted",
                                 registry::AccessStatus::kAccepted, "owner", "")
                  .ok());
    }
    auto writer = registry::Registry::Open(dir / "data" / "registry.db",
                                           registry::Registry::Mode::kReadWrite);
    REQUIRE(writer.ok());
    access = std::make_unique<AccessServices>(
        AccessPolicy{}, std::make_unique<RegistryWriter>(std::move(writer.value())));
  }

  void Set(const std::string& repo, registry::RepoAccessSettings settings) {
    REQUIRE(registry->SetAccessSettings(RepoType::kModel, repo, settings).ok());
  }

  std::string NewToken(const std::string& user, const std::string& name, registry::TokenScope scope,
                       int64_t expires_at_ms = 0) {
    std::string secret = NewTokenSecret().value();
    REQUIRE(registry->AddToken(user, name, TokenSecretHash(secret), scope, expires_at_ms).ok());
    return secret;
  }

  Response Call(http::verb method, const std::string& target, const std::string& token = "",
                const std::string& body = "", const std::string& address = "10.0.0.1") {
    Request request(method, target, 11);
    request.set(http::field::host, "mirror.test");
    if (!token.empty()) request.set(http::field::authorization, "Bearer " + token);
    if (!body.empty()) {
      request.set(http::field::content_type, "application/json");
      request.body() = body;
      request.prepare_payload();
    }
    DispatchEnvironment environment{registry.get(),       *local_store, 16u << 20,    *key,
                                    "http://mirror.test", nullptr,      access.get(), address};
    return Dispatch(request, environment);
  }
  Response Get(const std::string& target, const std::string& token = "") {
    return Call(http::verb::get, target, token);
  }

  std::shared_ptr<const SigningKey> key =
      std::move(SigningKey::LoadOrCreate(dir / "key.pem").value());
  std::map<std::string, std::string> tokens;
  std::unique_ptr<AccessServices> access;
};

inline std::string Header(const Response& response, std::string_view name) {
  for (const auto& [key, value] : response.headers) {
    if (key == name) return value;
  }
  return "";
}

// The HTTP status of a response, as a number.
inline int Status(const Response& response) { return static_cast<int>(response.status); }

}  // namespace hubmirror::api
