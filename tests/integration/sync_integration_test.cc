// `hubmirror sync` against a real upstream: another hubmirror instance serving imported repos.
#include <catch2/catch.hpp>
#include <functional>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/digest.h"
#include "common/url.h"
#include "tests/integration/http_client.h"
#include "tests/integration/server_process.h"
#include "tests/support/temp_dir.h"

namespace hubmirror::testing {
namespace {

using nlohmann::json;

CommandResult Sync(const std::filesystem::path& data, uint16_t upstream_port,
                   std::vector<std::string> extra) {
  std::vector<std::string> args = {"sync", "--data", data.string(), "--upstream",
                                   "http://127.0.0.1:" + std::to_string(upstream_port)};
  args.insert(args.end(), extra.begin(), extra.end());
  return RunHubmirror(args);
}

// Every file of a repo revision, from the recursive tree listing.
std::vector<std::string> FilePaths(const HttpClient& client, const std::string& repo,
                                   const std::string& revision = "main") {
  auto response = client.Get("/api/models/" + repo + "/tree/" + revision + "?recursive=true");
  REQUIRE(response.status == 200);
  std::vector<std::string> paths;
  for (const auto& entry : json::parse(response.body)) {
    if (entry["type"] == "file") paths.push_back(entry["path"]);
  }
  return paths;
}

struct Upstream {
  TempDir dir;
  std::filesystem::path source = dir / "src";
  std::unique_ptr<ServerProcess> server;

  void Import(const std::string& repo) {
    auto result = ImportFolder(dir / "data", repo, source);
    REQUIRE(result.exit_code == 0);
  }
  void Start() { server = ServerProcess::Start(dir / "data"); }
};

void WriteModel(const std::filesystem::path& source) {
  WriteFile(source / "README.md", "---\nbase_model: acme/base\nlicense: mit\n---\n# Model\n");
  WriteFile(source / "config.json", "{\"hidden_size\": 8}\n");
  WriteFile(source / "nested/dir/read me.txt", "spaces are legal\n");
  std::string weights(3 << 20, '\0');
  for (size_t i = 0; i < weights.size(); ++i) weights[i] = static_cast<char>((i * 131) % 251);
  WriteFile(source / "weights/model.safetensors", weights);
}

TEST_CASE("sync mirrors a repo from another hubmirror, byte for byte", "[sync]") {
  Upstream upstream;
  WriteModel(upstream.source);
  upstream.Import("acme/model");
  upstream.Start();
  TempDir mirror;

  auto first = Sync(mirror / "data", upstream.server->port(), {"acme/model"});
  INFO(first.err);
  REQUIRE(first.exit_code == 0);
  CHECK_THAT(first.out, Catch::Contains("downloaded 4"));

  auto second = Sync(mirror / "data", upstream.server->port(), {"acme/model"});
  REQUIRE(second.exit_code == 0);
  CHECK_THAT(second.out, Catch::Contains("up to date"));

  auto server = ServerProcess::Start(mirror / "data");
  HttpClient from_upstream(upstream.server->port());
  HttpClient from_mirror(server->port());
  auto upstream_info = json::parse(from_upstream.Get("/api/models/acme/model").body);
  auto mirror_info = json::parse(from_mirror.Get("/api/models/acme/model").body);
  CHECK(mirror_info["sha"] == upstream_info["sha"]);
  CHECK(mirror_info["cardData"] == upstream_info["cardData"]);
  CHECK(mirror_info["tags"] == upstream_info["tags"]);

  auto paths = FilePaths(from_upstream, "acme/model");
  REQUIRE(paths.size() == 4);
  CHECK(FilePaths(from_mirror, "acme/model") == paths);
  for (const auto& path : paths) {
    INFO(path);
    std::string target = "/acme/model/resolve/main/" + PercentEncode(path, true);
    auto a = from_upstream.Get(target);
    auto b = from_mirror.Get(target);
    REQUIRE(b.status == 200);
    CHECK(Sha256Hex(b.body) == Sha256Hex(a.body));
    CHECK(b.HeaderOr("ETag") == a.HeaderOr("ETag"));
    CHECK(b.HeaderOr("X-Linked-Etag") == a.HeaderOr("X-Linked-Etag"));
    CHECK(b.HeaderOr("X-Repo-Commit") == upstream_info["sha"]);
  }
  // Lineage travels with the card, and the upstream's baseModels answer is what is recorded.
  auto base = from_mirror.Get("/api/models?filter=base_model:finetune:acme/base");
  CHECK(json::parse(base.body).size() == 1);
  auto expanded = "/api/models/acme/model?expand[]=baseModels";
  CHECK(json::parse(from_mirror.Get(expanded).body)["baseModels"] ==
        json::parse(from_upstream.Get(expanded).body)["baseModels"]);
  auto lineage = json::parse(from_mirror.Get("/api/lineage/models/acme/model?direction=up").body);
  CHECK(lineage["edges"] == json::parse(R"([{"child": "acme/model", "parent": "acme/base",
      "relation": "finetune", "source": "baseModels", "inferred": false}])"));
}

TEST_CASE("sync follows upstream changes and keeps old commits readable", "[sync]") {
  Upstream upstream;
  WriteModel(upstream.source);
  upstream.Import("acme/model");
  upstream.Start();
  TempDir mirror;
  REQUIRE(Sync(mirror / "data", upstream.server->port(), {"acme/model"}).exit_code == 0);
  HttpClient from_upstream(upstream.server->port());
  std::string old_commit = json::parse(from_upstream.Get("/api/models/acme/model").body)["sha"];

  // A rewritten branch: one file changed, one deleted.
  WriteFile(upstream.source / "config.json", "{\"hidden_size\": 16}\n");
  std::filesystem::remove(upstream.source / "nested/dir/read me.txt");
  upstream.Import("acme/model");
  auto update = Sync(mirror / "data", upstream.server->port(), {"acme/model"});
  INFO(update.err);
  REQUIRE(update.exit_code == 0);
  CHECK_THAT(update.out, Catch::Contains("3 files, downloaded 1 "));

  auto server = ServerProcess::Start(mirror / "data");
  HttpClient from_mirror(server->port());
  CHECK(from_mirror.Get("/acme/model/resolve/main/config.json").body == "{\"hidden_size\": 16}\n");
  CHECK(from_mirror.Get("/acme/model/resolve/main/nested/dir/read%20me.txt").status == 404);
  CHECK(from_mirror.Get("/acme/model/resolve/" + old_commit + "/config.json").body ==
        "{\"hidden_size\": 8}\n");
  CHECK(from_mirror.Get("/acme/model/resolve/" + old_commit + "/nested/dir/read%20me.txt").status ==
        200);
}

TEST_CASE("sync stores shared content once, filters files, and reports each repo", "[sync]") {
  Upstream upstream;
  WriteModel(upstream.source);
  upstream.Import("acme/model");
  upstream.Import("acme/copy");
  upstream.Start();
  TempDir mirror;

  auto filtered =
      Sync(mirror / "data", upstream.server->port(), {"--exclude", "*.safetensors", "acme/model"});
  REQUIRE(filtered.exit_code == 0);
  CHECK_THAT(filtered.out, Catch::Contains("3 files, downloaded 3 "));

  // The copy shares all content: only the weights left out above are new.
  auto copy = Sync(mirror / "data", upstream.server->port(), {"acme/copy", "acme/missing"});
  CHECK(copy.exit_code == 1);
  CHECK_THAT(copy.out, Catch::Contains("acme/copy@main: mirrored"));
  CHECK_THAT(copy.out, Catch::Contains("4 files, downloaded 1 "));
  CHECK_THAT(copy.err, Catch::Contains("acme/missing"));
  CHECK_THAT(copy.err, Catch::Contains("not found upstream"));

  auto only = Sync(mirror / "data", upstream.server->port(),
                   {"--include", "weights/*", "acme/model@" + std::string(40, 'f')});
  CHECK(only.exit_code == 1);
  CHECK_THAT(only.err, Catch::Contains("acme/model@ffff"));
}

TEST_CASE("content shared by several paths is downloaded once per run", "[sync]") {
  Upstream upstream;
  std::string weights(6 << 20, 'w');
  WriteFile(upstream.source / "model.safetensors", weights);
  WriteFile(upstream.source / "backup/model.safetensors", weights);
  WriteFile(upstream.source / "a.txt", "same");
  WriteFile(upstream.source / "b/a.txt", "same");
  upstream.Import("acme/twins");
  upstream.Start();
  TempDir mirror;
  auto result = Sync(mirror / "data", upstream.server->port(), {"acme/twins"});
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  CHECK_THAT(result.out, Catch::Contains("4 files, downloaded 2 "));
  CHECK(std::filesystem::is_empty(mirror / "data/tmp"));
  auto server = ServerProcess::Start(mirror / "data");
  HttpClient client(server->port());
  CHECK(client.Get("/acme/twins/resolve/main/backup/model.safetensors").body == weights);
  CHECK(client.Get("/acme/twins/resolve/main/b/a.txt").body == "same");
}

TEST_CASE("sync refuses bad usage with exit code 2", "[sync]") {
  TempDir dir;
  CHECK(RunHubmirror({"sync", "--data", (dir / "d").string(), "--upstream", "ftp://x", "acme/m"})
            .exit_code == 2);
  CHECK(RunHubmirror({"sync", "--data", (dir / "d").string(), "--upstream", "http://127.0.0.1:1",
                      "--token-env", "HUBMIRROR_TEST_UNSET_TOKEN", "acme/m"})
            .exit_code == 2);
  CHECK(RunHubmirror(
            {"sync", "--data", (dir / "d").string(), "--upstream", "http://127.0.0.1:1", "../etc"})
            .exit_code == 2);
}

// Polls /api/mirror/status until `done` holds for the repo's entry or the deadline passes.
json WaitForStatus(const HttpClient& client, const std::string& repo,
                   const std::function<bool(const json&)>& done) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  json last;
  while (std::chrono::steady_clock::now() < deadline) {
    auto response = client.Get("/api/mirror/status");
    REQUIRE(response.status == 200);
    json status = json::parse(response.body);
    for (const auto& item : status["repos"]) {
      if (item.value("id", std::string()) == repo) last = item;
    }
    if (!last.is_null() && done(last)) return last;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  FAIL("status of " << repo << " never reached the expected state; last: " << last.dump());
  return last;
}

TEST_CASE("serve --config keeps repos mirrored on a schedule and reports status", "[sync]") {
  Upstream upstream;
  WriteModel(upstream.source);
  upstream.Import("acme/model");
  upstream.Start();
  TempDir mirror;
  WriteFile(mirror / "config.toml",
            "[upstream]\nurl = \"http://127.0.0.1:" + std::to_string(upstream.server->port()) +
                "\"\n[schedule]\ninterval_seconds = 3600\n"
                "[[mirror]]\nrepo = \"acme/model\"\nexclude = [\"*.safetensors\"]\n"
                "[[mirror]]\nrepo = \"acme/absent\"\n");
  auto server = ServerProcess::Start(mirror / "data", mirror / "config.toml");
  HttpClient client(server->port());
  json synced =
      WaitForStatus(client, "acme/model", [](const json& s) { return s["in_sync"] == true; });
  CHECK(synced["upstream"] == "http://127.0.0.1:" + std::to_string(upstream.server->port()));
  CHECK(synced["last_error"].is_null());
  CHECK(synced["seconds_since_success"].is_number());
  CHECK(client.Get("/acme/model/resolve/main/config.json").status == 200);
  CHECK(client.Get("/acme/model/resolve/main/weights/model.safetensors").status == 404);
  json absent = WaitForStatus(client, "acme/absent",
                              [](const json& s) { return s["last_error"].is_string(); });
  CHECK_THAT(absent["last_error"].get<std::string>(), Catch::Contains("not found upstream"));
  CHECK(absent["local_commit"].is_null());
  CHECK(absent["in_sync"] == false);
}

TEST_CASE("a mirror rule can be a pattern over one namespace", "[sync]") {
  Upstream upstream;
  WriteFile(upstream.source / "config.json", "{}");
  upstream.Import("acme/smol-base");
  upstream.Import("acme/smol-instruct");
  upstream.Import("acme/other");
  upstream.Import("elsewhere/smol-copy");
  upstream.Start();
  TempDir mirror;
  WriteFile(mirror / "config.toml",
            "[upstream]\nurl = \"http://127.0.0.1:" + std::to_string(upstream.server->port()) +
                "\"\n[[mirror]]\nrepo = \"acme/smol-*\"\n");
  auto server = ServerProcess::Start(mirror / "data", mirror / "config.toml");
  HttpClient client(server->port());
  WaitForStatus(client, "acme/smol-base", [](const json& s) { return s["in_sync"] == true; });
  WaitForStatus(client, "acme/smol-instruct", [](const json& s) { return s["in_sync"] == true; });
  json status = json::parse(client.Get("/api/mirror/status").body);
  CHECK(status["repos"].size() == 2);
  CHECK(client.Get("/api/models/acme/other").status == 404);
  CHECK(client.Get("/api/models/elsewhere/smol-copy").status == 404);
}

TEST_CASE("with the upstream unreachable the daemon keeps serving and says why", "[sync]") {
  TempDir mirror;
  // Port 1 on loopback refuses connections.
  WriteFile(mirror / "config.toml",
            "[upstream]\nurl = \"http://127.0.0.1:1\"\n[sync]\nretries = 0\n"
            "[[mirror]]\nrepo = \"acme/model\"\n");
  auto server = ServerProcess::Start(mirror / "data", mirror / "config.toml");
  HttpClient client(server->port());
  json state = WaitForStatus(client, "acme/model",
                             [](const json& s) { return s["last_error"].is_string(); });
  CHECK(client.Get("/healthz").status == 200);
  CHECK_THAT(server->Stderr(), Catch::Contains("sync of model acme/model@main from"));
  CHECK_THAT(server->Stderr(), Catch::Contains("next sync attempt in 30 s"));
}

TEST_CASE("a bad config file is refused with exit code 2 naming the key", "[sync]") {
  TempDir dir;
  struct Case {
    std::string toml;
    std::string message;
  };
  auto c = GENERATE(values<Case>({
      {"[upstream]\nurl = \"http://x\"\n[[mirror]]\nrepo = \"acme/m\"\nrevison = \"v1\"\n",
       "mirror[0].revison: unknown key"},
      {"[[mirror]]\nrepo = \"acme/m\"\n", "missing table [upstream]"},
      {"[upstream]\nurl = \"http://x\"\n[[mirror]]\nrepo = \"../etc\"\n", "mirror[0].repo"},
      {"[upstream]\nurl = \"http://x\"\ntoken_env = \"HUBMIRROR_TEST_UNSET\"\n",
       "HUBMIRROR_TEST_UNSET is not set"},
      {"[upstream\n", "config.toml:1"},
      {"[upstream]\nurl = \"http://x\"\n[schedule]\ninterval_seconds = 1\n",
       "schedule.interval_seconds"},
      {"[upstream]\nurl = \"http://x\"\n[[mirror]]\nrepo = \"acme*/m\"\n",
       "the namespace must be literal"},
  }));
  WriteFile(dir / "config.toml", c.toml);
  auto result = RunHubmirror({"serve", "--data", (dir / "d").string(), "--listen", "127.0.0.1:0",
                              "--config", (dir / "config.toml").string()});
  CHECK(result.exit_code == 2);
  CHECK_THAT(result.err, Catch::Contains(c.message));
}

}  // namespace
}  // namespace hubmirror::testing
