// HTTP itself: keep-alive and pipelining, HTTP/1.0, HEAD on API routes, the origin in Link
// URLs, concurrent clients, CORS and preflights, /healthz and the small endpoints clients call.
#include <atomic>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tests/integration/api_fixture.h"

namespace hubmirror::testing {
namespace {

using nlohmann::json;

// ---------------------------------------------------------------------------------------------
// HTTP: connections, HEAD, Link origins and concurrency
// ---------------------------------------------------------------------------------------------

TEST_CASE("keep-alive: pipelined requests on one connection, HEAD without a body", "[http]") {
  World& world = Shared();
  const std::string target = std::string("/") + kModel + "/resolve/main/config.json";
  const std::string& content = world.model_v2.at("config.json");
  std::string raw = world.http().Exchange(
      "HEAD " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" + "GET " + target +
      " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" +
      "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  size_t responses = 0;
  for (size_t at = raw.find("HTTP/1.1 200 OK\r\n"); at != std::string::npos;
       at = raw.find("HTTP/1.1 200 OK\r\n", at + 1)) {
    ++responses;
  }
  CHECK(responses == 3);
  size_t first_body = raw.find(content);
  REQUIRE(first_body != std::string::npos);
  CHECK(raw.find(content, first_body + 1) == std::string::npos);  // the HEAD sent no body
  // The file body comes right after the second header block.
  size_t second = raw.find("HTTP/1.1 200 OK\r\n", raw.find("HTTP/1.1 200 OK\r\n") + 1);
  CHECK(raw.find("\r\n\r\n", second) + 4 == first_body);
}

TEST_CASE("HTTP/1.0 requests are answered and the connection closed", "[http]") {
  World& world = Shared();
  std::string raw = world.http().Exchange("GET /healthz HTTP/1.0\r\n\r\n");
  CHECK(StartsWith(raw, "HTTP/1.0 200 OK\r\n"));
  CHECK(EndsWith(raw, "{\"status\":\"ok\"}"));
}

TEST_CASE("HEAD on API routes: the GET's status and Content-Length, no body", "[http]") {
  World& world = Shared();
  for (const std::string& target :
       {std::string("/api/models/") + kModel, std::string("/api/models/") + kModel + "/tree/main",
        std::string("/api/models?limit=1"), std::string("/api/models/acme/nope"),
        std::string("/api/datasets/acme/data/refs"),
        std::string("/api/models/acme/model?expand=x")}) {
    INFO("HEAD " << target);
    auto get = world.http().Get(target);
    auto head = world.http().Head(target);
    CHECK(head.status == get.status);
    CHECK(head.body.empty());
    CHECK(head.bytes_after_message == 0);
    CHECK(head.HeaderOr("Content-Length") == std::to_string(get.body.size()));
    CHECK(head.HeaderOr("Content-Type") == get.HeaderOr("Content-Type"));
    CHECK(head.HeaderOr("Link") == get.HeaderOr("Link"));
  }
}

TEST_CASE("Link URLs use the origin the client addressed", "[pagination]") {
  World& world = Shared();
  const std::string port = std::to_string(world.server->port());
  struct Case {
    std::string host;
    std::string origin;
  };
  std::vector<Case> cases = {
      {"127.0.0.1:" + port, "http://127.0.0.1:" + port},
      {"localhost:" + port, "http://localhost:" + port},
      {"mirror.internal", "http://mirror.internal"},
      {"[::1]:" + port, "http://[::1]:" + port},
      // Anything that is not a plain host[:port] falls back to the address the server is bound to.
      {"evil.example/x?", "http://127.0.0.1:" + port},
      {"a b", "http://127.0.0.1:" + port},
      {"<script>", "http://127.0.0.1:" + port},
  };
  for (const auto& c : cases) {
    INFO("Host: " << c.host);
    auto response = world.http().Get("/api/models?limit=1", {{"Host", c.host}});
    REQUIRE(response.status == 200);
    CHECK(StartsWith(response.HeaderOr("Link"), "<" + c.origin + "/api/models?limit=1&cursor=1>"));
  }
}

TEST_CASE("concurrent clients all get exact answers", "[http][concurrency]") {
  World& world = Shared();
  const std::string repo = std::string("/") + kModel;
  std::vector<std::pair<std::string, std::string>> files(world.model_v2.begin(),
                                                         world.model_v2.end());
  std::atomic<int> wrong{0};
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      // Catch2 assertions are not thread-safe: count here, check after the join.
      try {
        for (int i = 0; i < 40; ++i) {
          const auto& [path, content] = files[static_cast<size_t>(t * 40 + i) % files.size()];
          if (i % 4 == 3) {
            auto tree =
                world.http().Get(std::string("/api/models/") + kModel + "/tree/main?recursive=1");
            if (tree.status != 200 || json::parse(tree.body).size() != 15) ++wrong;
            continue;
          }
          bool ranged = content.size() > 20 && i % 2 == 1;
          auto response =
              world.http().Get(repo + "/resolve/main/" + UrlPath(path),
                               ranged ? HeaderList{{"Range", "bytes=5-14"}} : HeaderList{});
          std::string expected = ranged ? content.substr(5, 10) : content;
          if (response.status != (ranged ? 206 : 200) || response.body != expected ||
              response.HeaderOr("X-Repo-Commit") != world.commit2) {
            ++wrong;
          }
        }
      } catch (const std::exception&) {
        ++errors;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(wrong.load() == 0);
  CHECK(errors.load() == 0);
  CheckHealthy(world);
}

// ---------------------------------------------------------------------------------------------
// CORS, health and the small endpoints
// ---------------------------------------------------------------------------------------------

TEST_CASE("CORS: every response allows any origin; OPTIONS preflights answer 204", "[cors]") {
  World& world = Shared();
  const std::string repo = std::string("/") + kModel;
  std::vector<HttpRequest> requests = {
      {"GET", repo + "/resolve/main/config.json", {{"Origin", "https://example.org"}}, ""},
      {"HEAD", repo + "/resolve/main/model.safetensors", {}, ""},
      {"GET", repo + "/resolve/main/model.safetensors", {{"Range", "bytes=0-0"}}, ""},
      {"GET", repo + "/resolve/main/nope", {}, ""},
      {"GET", "/api/models/acme/nope", {}, ""},
      {"GET", "/api/models", {}, ""},
      {"GET", repo + "/resolve/main/%2e%2e/x", {}, ""},
      {"GET", "/healthz", {}, ""},
  };
  for (const auto& request : requests) {
    INFO(request.method << " " << request.target);
    CheckCors(world.http().Send(request));
  }
  for (const std::string& target : {repo + "/resolve/main/config.json",
                                    std::string("/api/models/") + kModel + "/paths-info/main",
                                    std::string("/api/models/") + kModel + "/revision/HEAD"}) {
    INFO("OPTIONS " << target);
    auto response = world.http().Send({"OPTIONS",
                                       target,
                                       {{"Origin", "https://example.org"},
                                        {"Access-Control-Request-Method", "GET"},
                                        {"Access-Control-Request-Headers", "authorization,range"}},
                                       ""});
    CHECK(response.status == 204);
    CHECK(response.body.empty());
    CheckCors(response);
    auto methods = CommaList(response.HeaderOr("Access-Control-Allow-Methods"));
    for (const char* method : {"get", "head", "post"}) CHECK(methods.count(method) == 1);
    auto headers = CommaList(response.HeaderOr("Access-Control-Allow-Headers"));
    for (const char* header : {"authorization", "range"}) CHECK(headers.count(header) == 1);
  }
}

TEST_CASE("a 204 preflight carries no Content-Length (RFC 9110 8.6)", "[cors][rfc]") {
  World& world = Shared();
  auto response = world.http().Send({"OPTIONS", "/healthz", {}, ""});
  REQUIRE(response.status == 204);
  CHECK_FALSE(response.Has("Content-Length"));
}

TEST_CASE("healthz and the small endpoints clients call", "[health]") {
  World& world = Shared();
  auto health = world.http().Get("/healthz");
  CHECK(health.status == 200);
  CHECK(Json(health) == json({{"status", "ok"}}));
  CheckCors(health);
  auto head = world.http().Head("/healthz");
  CHECK(head.status == 200);
  CHECK(head.body.empty());
  CHECK(head.HeaderOr("Content-Length") == health.HeaderOr("Content-Length"));
  CHECK(head.bytes_after_message == 0);

  CheckError(world.http().Get("/api/whoami-v2"), 401, "Unauthorized", true);
  auto telemetry = world.http().Post("/api/telemetry/examples", "application/json", "{}");
  CHECK(telemetry.status == 200);
  auto harnesses = world.http().Get("/api/agent-harnesses");
  CHECK(harnesses.status == 200);
  CHECK(Json(harnesses).is_object());
}

}  // namespace
}  // namespace hubmirror::testing
