// Error answers: unknown repos, revisions and files, hostile targets, malformed HTTP, methods
// not allowed, size limits and clients that hang up; none of them may hurt the server.
#include <catch2/catch.hpp>
#include <cstddef>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "tests/integration/api_fixture.h"

namespace hubmirror::testing {
namespace {

using nlohmann::json;

// A string literal with embedded NULs, all of it.
template <size_t N>
std::string Bytes(const char (&literal)[N]) {
  return std::string(literal, N - 1);
}

// ---------------------------------------------------------------------------------------------
// Errors and hostile input
// ---------------------------------------------------------------------------------------------

TEST_CASE("errors: unknown repos, revisions and files", "[errors]") {
  World& world = Shared();
  const std::string repo = std::string("/") + kModel;
  const std::string api = std::string("/api/models/") + kModel;
  struct Case {
    std::string method;
    std::string target;
    std::string code;
    bool json_body;
  };
  const std::string absent_commit(40, 'a');
  std::vector<Case> cases = {
      {"GET", "/api/models/acme/nope", "RepoNotFound", true},
      {"GET", "/api/models/acme/base", "RepoNotFound", true},  // known from lineage, not mirrored
      {"GET", "/api/models/gpt2", "RepoNotFound", true},
      {"GET", "/api/datasets/acme/nope/revision/main", "RepoNotFound", true},
      {"GET", "/acme/nope/resolve/main/config.json", "RepoNotFound", false},
      {"HEAD", "/acme/nope/resolve/main/config.json", "RepoNotFound", false},
      {"GET", "/acme/nope/raw/main/config.json", "RepoNotFound", false},
      {"GET", "/datasets/acme/nope/resolve/main/x.csv", "RepoNotFound", false},
      {"GET", repo + "/resolve/nope/config.json", "RevisionNotFound", false},
      {"HEAD", repo + "/resolve/nope/config.json", "RevisionNotFound", false},
      {"GET", repo + "/resolve/" + absent_commit + "/config.json", "RevisionNotFound", false},
      {"GET", repo + "/resolve/" + world.dataset_commit + "/README.md", "RevisionNotFound", false},
      {"GET", repo + "/resolve/refs%2Fpr%2F1/config.json", "RevisionNotFound", false},
      {"GET", repo + "/resolve/refs/pr/1/config.json", "RevisionNotFound", false},
      {"GET", api + "/revision/nope", "RevisionNotFound", true},
      {"GET", api + "/revision/" + absent_commit, "RevisionNotFound", true},
      {"GET", api + "/revision/refs%2Fconvert%2Fparquet", "RevisionNotFound", true},
      {"GET", api + "/tree/refs/pr/1", "RevisionNotFound", true},
      {"GET", api + "/commits/" + absent_commit, "RevisionNotFound", true},
      {"GET", "/api/models/acme/nope/revision/main", "RepoNotFound", true},
      {"GET", "/api/spaces/acme/model", "NotFound", true},
      {"GET", "/nothing-here", "NotFound", false},
      {"GET", api + "/blob/main/config.json", "NotFound", true},
  };
  for (const auto& c : cases) {
    INFO(c.method << " " << c.target);
    auto response = world.http().Send({c.method, c.target, {}, ""});
    CheckError(response, 404, c.code, c.json_body);
    if (c.method == "HEAD") CHECK(response.body.empty());
    if (c.json_body && c.method == "GET") {
      CHECK(Json(response)["error"].is_string());
    } else if (c.method == "GET") {
      CHECK_FALSE(response.body.empty());
      CHECK_FALSE(StartsWith(response.body, "{"));
    }
    CHECK(response.bytes_after_message == 0);
  }
  // Missing files: EntryNotFound with the commit the revision resolved to.
  struct Missing {
    std::string method;
    std::string target;
    std::string commit;
  };
  std::vector<Missing> missing = {
      {"GET", repo + "/resolve/main/nope.txt", world.commit2},
      {"HEAD", repo + "/resolve/main/nope.txt", world.commit2},
      {"GET", repo + "/raw/main/nope.txt", world.commit2},
      {"GET", repo + "/resolve/main/removed.txt", world.commit2},
      {"GET", repo + "/resolve/" + world.commit1 + "/added.txt", world.commit1},
      {"GET", repo + "/resolve/main/nested", world.commit2},  // a directory is not a file
      {"GET", repo + "/resolve/HEAD/nested/deep/readme.txt", world.commit2},
  };
  for (const auto& m : missing) {
    INFO(m.method << " " << m.target);
    auto response = world.http().Send({m.method, m.target, {}, ""});
    CheckError(response, 404, "EntryNotFound", false);
    CHECK(response.HeaderOr("X-Repo-Commit") == m.commit);
    CHECK(response.HeaderOr("X-Error-Message") == "Entry not found");
    if (m.method == "GET") CHECK(response.body == "Entry not found");
  }
}

TEST_CASE("hostile targets get 400, never a crash", "[errors][hostile]") {
  World& world = Shared();
  const std::string repo = std::string("/") + kModel;
  const std::string api = std::string("/api/models/") + kModel;
  std::string long_path;
  while (long_path.size() <= 4200) long_path += std::string(200, 'p') + "/";
  long_path += "x";
  std::string long_target = repo + "/resolve/main/" + std::string(9000, 'a');
  std::vector<std::string> targets = {
      repo + "/resolve/main/../config.json",
      repo + "/resolve/main/./config.json",
      repo + "/resolve/main/nested/../config.json",
      repo + "/resolve/main/%2e%2e/config.json",
      repo + "/resolve/main/%2E%2E/config.json",
      repo + "/resolve/main/.%2e/config.json",
      repo + "/resolve/main/%2e%2e%2fconfig.json",
      repo + "/resolve/main/nested%2F..%2Fconfig.json",
      repo + "/resolve/main/%2Fconfig.json",
      repo + "/resolve/main/nested//notes.md",
      repo + "/resolve/../resolve/main/config.json",
      repo + "/resolve/%2e%2e/config.json",
      repo + "/raw/main/../../../etc/passwd",
      "/acme/../acme/model/resolve/main/config.json",
      "/acme/%2e%2e/resolve/main/config.json",
      "/acme%2Fmodel/resolve/main/config.json",
      "/acme%2fmodel/resolve/main/config.json",
      "/datasets/acme%2Fdata/resolve/main/data/train.csv",
      "/api/models/acme%2Fmodel",
      "/api/models/acme%2Fmodel/tree/main",
      "/api/models/acme/model%2F..",
      "/api/models/acme/..",
      "/api/models/acme/a..b",
      "/api/models/-acme/model",
      "/api/models/acme/model-",
      "/api/models/acme/mo%20del",
      "/api/models/acme/mo%00del",
      api + "/revision/..",
      api + "/revision/%2e%2e",
      api + "/tree/main/..",
      api + "/tree/main/%2e%2e",
      api + "/tree/main/nested/%2e%2e/..",
      api + "/tree/main/nested%2F..%2F..",
      repo + "/resolve/main/config.json%00",
      repo + "/resolve/main/%00",
      repo + "/resolve/main/config.json%00.txt",
      repo + "/resolve/ma%00in/config.json",
      repo + "/resolve/main/a%0d%0aX-Injected:%20yes",
      repo + "/resolve/main/a%0aX-Injected:%20yes",
      repo + "/resolve/main/a%09b",
      repo + "/resolve/main/a%7fb",
      repo + "/resolve/main/a%1bb",
      api + "/tree/main/%0d%0a",
      repo + "/resolve/main/%ff%fe.txt",
      repo + "/resolve/main/%c3.txt",
      repo + "/resolve/main/%zz",
      repo + "/resolve/main/%4",
      repo + "/resolve/main/config.json%",
      repo + "/resolve/main/%%30",
      repo + "/resolve/main/%g0.txt",
      repo + "/resolve/main/config.json?x=%zz",
      api + "?expand=%",
      api + "/tree/main?recursive=%0",
      "/api/models?search=%zz",
      "/api/models/" + std::string(97, 'a') + "/model",
      "/api/models/acme/" + std::string(97, 'b'),
      "/api/models/acme/" + std::string(300, 'b') + "/tree/main",
      std::string(1, '/') + std::string(97, 'a') + "/model/resolve/main/config.json",
      repo + "/resolve/" + std::string(300, 'r') + "/config.json",
      api + "/revision/" + std::string(300, 'r'),
      repo + "/resolve/main/" + std::string(256, 's'),
      api + "/tree/main/" + std::string(256, 's'),
      repo + "/resolve/main/" + long_path,
      long_target,
      std::string("/api/models?search=") + std::string(9000, 'q'),
      "healthz",
  };
  for (const auto& target : targets) {
    INFO("GET " << target.substr(0, 300) << " (" << target.size() << " bytes)");
    bool api_route = StartsWith(target, "/api/");
    for (const char* method : {"GET", "HEAD"}) {
      INFO(method);
      auto response = world.http().Send({method, target, {}, ""});
      CHECK(response.status == 400);
      CHECK(response.HeaderOr("X-Error-Code") == "BadRequest");
      CHECK_FALSE(response.Has("X-Injected"));
      CheckCors(response);
      if (api_route && std::string(method) == "GET") {
        CHECK(StartsWith(response.HeaderOr("Content-Type"), "application/json"));
      }
    }
    CheckHealthy(world);
  }
}

TEST_CASE("malformed HTTP gets 4xx, never a crash", "[errors][hostile]") {
  World& world = Shared();
  struct Case {
    std::string name;
    std::string bytes;
  };
  const std::string host = "Host: 127.0.0.1\r\n";
  std::vector<Case> cases = {
      {"raw control byte in target",
       "GET /acme/model/resolve/main/a\x01"
       "b HTTP/1.1\r\n" +
           host + "\r\n"},
      {"raw DEL in target",
       "GET /acme/model/resolve/main/a\x7f"
       "b HTTP/1.1\r\n" +
           host + "\r\n"},
      {"raw NUL in target",
       Bytes("GET /acme/model/resolve/main/a\0b HTTP/1.1\r\n") + host + "\r\n"},
      {"raw space in target", "GET /acme/model/resolve/main/a b HTTP/1.1\r\n" + host + "\r\n"},
      {"raw CR LF in target",
       "GET /acme/model/resolve/main/a\r\nX-Injected: 1 HTTP/1.1\r\n" + host + "\r\n"},
      {"bad Content-Length", "POST /api/models/acme/model/paths-info/main HTTP/1.1\r\n" + host +
                                 "Content-Length: abc\r\n\r\n"},
      {"two Content-Lengths", "POST /api/models/acme/model/paths-info/main HTTP/1.1\r\n" + host +
                                  "Content-Length: 1\r\nContent-Length: 2\r\n\r\nab"},
      {"bad chunk size", "POST /api/models/acme/model/paths-info/main HTTP/1.1\r\n" + host +
                             "Transfer-Encoding: chunked\r\n\r\nzz\r\n"},
      {"header without colon", "GET /healthz HTTP/1.1\r\n" + host + "Broken header\r\n\r\n"},
      {"bad version", "GET /healthz HTTP/9\r\n" + host + "\r\n"},
      {"no version", "GET /healthz\r\n\r\n"},
      {"TLS hello", Bytes("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n")},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    auto response = world.http().SendRaw(c.bytes);
    CHECK(response.status >= 400);
    CHECK(response.status < 500);
    CHECK_FALSE(response.Has("X-Injected"));
    CheckHealthy(world);
  }
  // Half a request, then the client goes away.
  world.http().SendAndHangUp("GET /acme/model/resolve/main/config.json HTTP/1.1\r\nHost: x", 0);
  CheckHealthy(world);
}

TEST_CASE("methods other than GET and HEAD on file and info routes get 405", "[errors][methods]") {
  World& world = Shared();
  const std::string repo = std::string("/") + kModel;
  const std::string api = std::string("/api/models/") + kModel;
  struct Case {
    std::string method;
    std::string target;
    bool json_body;
  };
  std::vector<Case> cases = {
      {"POST", repo + "/resolve/main/config.json", false},
      {"PUT", repo + "/resolve/main/config.json", false},
      {"DELETE", repo + "/resolve/main/config.json", false},
      {"PATCH", repo + "/raw/main/config.json", false},
      {"POST", "/datasets/acme/data/resolve/main/data/train.csv", false},
      {"POST", api, true},
      {"DELETE", api, true},
      {"POST", api + "/tree/main", true},
      {"PUT", api + "/refs", true},
      {"POST", api + "/commits/main", true},
      {"POST", "/api/models", true},
      {"PUT", api + "/paths-info/main", true},
      {"GET", api + "/paths-info/main", true},
      {"POST", "/healthz", false},
  };
  for (const auto& c : cases) {
    INFO(c.method << " " << c.target);
    auto response = world.http().Send({c.method, c.target, {}, c.method == "GET" ? "" : "x=1"});
    CheckError(response, 405, "MethodNotAllowed", c.json_body);
  }
  CheckHealthy(world);
}

TEST_CASE("405 responses say which methods are allowed (RFC 9110 15.5.6)",
          "[errors][methods][rfc]") {
  World& world = Shared();
  struct Case {
    std::string method;
    std::string target;
    std::set<std::string> allowed;
  };
  std::vector<Case> cases = {
      {"POST", std::string("/") + kModel + "/resolve/main/config.json", {"get", "head"}},
      {"GET", std::string("/api/models/") + kModel + "/paths-info/main", {"post"}},
  };
  for (const auto& c : cases) {
    INFO(c.method << " " << c.target);
    auto response = world.http().Send({c.method, c.target, {}, ""});
    REQUIRE(response.status == 405);
    REQUIRE(response.Has("Allow"));
    auto allowed = CommaList(response.HeaderOr("Allow"));
    for (const auto& method : c.allowed) CHECK(allowed.count(method) == 1);
  }
}

TEST_CASE("request size limits: 431 for big header blocks, 413 for big bodies",
          "[errors][limits]") {
  World& world = Shared();
  const std::string paths_info = std::string("/api/models/") + kModel + "/paths-info/main";
  SECTION("one header over 16 KiB") {
    auto response = world.http().Get("/healthz", {{"X-Big", std::string(20 * 1024, 'h')}});
    CHECK(response.status == 431);
    CHECK(response.HeaderOr("X-Error-Code") == "HeadersTooLarge");
    CheckCors(response);
  }
  SECTION("many headers adding up to over 16 KiB") {
    HeaderList headers;
    for (int i = 0; i < 200; ++i)
      headers.emplace_back("X-H" + std::to_string(i), std::string(90, 'v'));
    CHECK(world.http().Get("/healthz", headers).status == 431);
  }
  SECTION("a header block just under the limit is fine") {
    auto response = world.http().Get("/healthz", {{"X-Big", std::string(15 * 1024, 'h')}});
    CHECK(response.status == 200);
  }
  SECTION("a request target that alone exceeds the header limit") {
    auto response = world.http().Get("/healthz?x=" + std::string(20 * 1024, 'a'));
    CHECK(response.status >= 400);
    CHECK(response.status < 500);
  }
  SECTION("a paths-info body over 1 MiB, with Content-Length") {
    std::string body = "paths=" + std::string(1024 * 1024, 'a');
    auto response = world.http().Post(paths_info, "application/x-www-form-urlencoded", body);
    CHECK(response.status == 413);
    CHECK(response.HeaderOr("X-Error-Code") == "PayloadTooLarge");
    CheckCors(response);
  }
  SECTION("a paths-info body over 1 MiB, declared but not sent") {
    auto response = world.http().SendRaw("POST " + paths_info +
                                         " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                         "Content-Type: application/json\r\n"
                                         "Content-Length: 2000000\r\n\r\n");
    CHECK(response.status == 413);
  }
  SECTION("a paths-info body over 1 MiB, chunked") {
    std::string chunk(64 * 1024, 'a');
    std::string bytes = "POST " + paths_info +
                        " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                        "Content-Type: application/x-www-form-urlencoded\r\n"
                        "Transfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 20; ++i) bytes += "10000\r\n" + chunk + "\r\n";
    bytes += "0\r\n\r\n";
    auto response = world.http().SendRaw(bytes);
    CHECK(response.status == 413);
  }
  SECTION("a body just under 1 MiB is read") {
    std::string body = "paths=config.json&paths=" + std::string(1000 * 1024, 'a');
    auto response = world.http().Post(paths_info, "application/x-www-form-urlencoded", body);
    CHECK(response.status == 200);
    CHECK(Paths(Json(response)) == std::vector<std::string>{"config.json"});
  }
  CheckHealthy(world);
}

TEST_CASE("a client that disconnects mid-download does not hurt the server", "[errors][hostile]") {
  World& world = Shared();
  const std::string request = std::string("GET /") + kModel +
                              "/resolve/main/model.safetensors HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  for (size_t read : {0, 1000, 100000, 1000000}) {
    INFO("hang up after " << read << " bytes");
    world.http().SendAndHangUp(request, read);
    CheckHealthy(world);
  }
  CheckHealthy(world);
  auto full = world.http().Get(std::string("/") + kModel + "/resolve/main/model.safetensors");
  CHECK(full.body == world.model_v2.at("model.safetensors"));
}

}  // namespace
}  // namespace hubmirror::testing
