// The CLI and the server process as the API tests use them: `hubmirror import` reports and
// refusals, a server publishing imports while it serves, a clean shutdown, `serve` usage errors.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "tests/integration/api_fixture.h"

namespace hubmirror::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// ---------------------------------------------------------------------------------------------
// The CLI, as the tests use it
// ---------------------------------------------------------------------------------------------

TEST_CASE("import reports each commit and re-importing an unchanged tree changes nothing",
          "[cli]") {
  World& world = Shared();
  for (const auto* commit :
       {&world.commit1, &world.commit2, &world.dev_commit, &world.dataset_commit,
        &world.child_commit, &world.gguf_commit, &world.many_commit}) {
    REQUIRE(std::regex_match(*commit, kHex40));
  }
  CHECK(world.commit1 != world.commit2);
  uint64_t bytes = 0;
  for (const auto& [path, content] : world.model_v2) bytes += content.size();
  CHECK(StartsWith(world.import_v2.out, "imported " + std::to_string(world.model_v2.size()) +
                                            " files (" + std::to_string(bytes) +
                                            " bytes) into model " + kModel + "@main as commit " +
                                            world.commit2));
  CHECK(world.reimport_v2.exit_code == 0);
  CHECK(StartsWith(world.reimport_v2.out, "unchanged: "));
  CHECK(ParseCommitId(world.reimport_v2) == world.commit2);
  CHECK(world.import_dev.exit_code == 0);
  CHECK(world.import_dev.out.find("@dev as commit") != std::string::npos);
}

TEST_CASE("import refuses bad input with exit code 2 and one line on stderr", "[cli]") {
  TempDir dir;
  WriteFile(dir / "src/config.json", "{}\n");
  fs::create_directories(dir / "outside");
  WriteFile(dir / "outside/secret.txt", "secret\n");
  WriteFile(dir / "escape/ok.txt", "ok\n");
  fs::create_symlink(dir / "outside/secret.txt", dir / "escape/link.txt");
  struct Case {
    std::string name;
    std::vector<std::string> args;
  };
  const std::string data = (dir / "data").string();
  std::vector<Case> cases = {
      {"repo id with two slashes",
       {"import", "--data", data, "--repo", "a/b/c", (dir / "src").string()}},
      {"repo id with '..'", {"import", "--data", data, "--repo", "a/b..c", (dir / "src").string()}},
      {"unknown type",
       {"import", "--data", data, "--repo", "a/b", "--type", "space", (dir / "src").string()}},
      {"bad branch",
       {"import", "--data", data, "--repo", "a/b", "--branch", "a..b", (dir / "src").string()}},
      {"missing folder", {"import", "--data", data, "--repo", "a/b", (dir / "nope").string()}},
      {"symlink out of the folder",
       {"import", "--data", data, "--repo", "a/b", (dir / "escape").string()}},
      {"no --repo", {"import", "--data", data, (dir / "src").string()}},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    CommandResult result = RunHubmirror(c.args);
    CHECK(result.exit_code == 2);
    CHECK(StartsWith(result.err, "hubmirror: "));
    CHECK(std::count(result.err.begin(), result.err.end(), '\n') == 1);
    CHECK(result.out.empty());
  }
}

// ---------------------------------------------------------------------------------------------
// A server of its own: publishing while serving, and a clean shutdown
// ---------------------------------------------------------------------------------------------

TEST_CASE("a running server sees new imports at once and exits 0 on SIGTERM", "[process]") {
  TempDir dir;
  auto server = ServerProcess::Start(dir / "data");
  HttpClient http(server->port());
  CHECK(Json(http.Get("/api/models")) == json::array());
  CheckError(http.Get("/acme/live/resolve/main/a.txt"), 404, "RepoNotFound", false);

  std::string commit;
  for (int version = 1; version <= 2; ++version) {
    INFO("version " << version);
    // A named folder, not "v" + number: GCC 12 at -O3 warns falsely (-Wrestrict) on that.
    std::filesystem::path folder = dir / "v";
    folder += std::to_string(version);
    WriteFile(folder / "a.txt", "version " + std::to_string(version) + "\n");
    CommandResult imported = ImportFolder(dir / "data", "acme/live", folder);
    REQUIRE(imported.exit_code == 0);
    std::string id = ParseCommitId(imported);
    CHECK(id != commit);
    commit = id;
    auto response = http.Get("/acme/live/resolve/main/a.txt");
    CHECK(response.status == 200);
    CHECK(response.body == "version " + std::to_string(version) + "\n");
    CHECK(response.HeaderOr("X-Repo-Commit") == commit);
    CHECK(Json(http.Get("/api/models/acme/live?expand=sha"))["sha"] == commit);
  }
  REQUIRE(server->Running());
  CHECK(server->Stop() == 0);
  CHECK_FALSE(server->Running());
  CHECK(server->Stderr().find("stopped") != std::string::npos);
}

TEST_CASE("importing another branch leaves the default branch's metadata alone",
          "[process][info]") {
  TempDir dir;
  WriteFile(dir / "main/README.md", "---\nlicense: mit\nbase_model: acme/base-a\n---\n# main\n");
  WriteFile(dir / "main/config.json", "{}\n");
  WriteFile(
      dir / "exp/README.md",
      "---\nlicense: apache-2.0\nbase_model: acme/base-b\npipeline_tag: fill-mask\n---\n# exp\n");
  WriteFile(dir / "exp/config.json", "{}\n");
  CommandResult main_import = ImportFolder(dir / "data", "acme/branchy", dir / "main");
  REQUIRE(main_import.exit_code == 0);
  CommandResult exp_import = ImportFolder(dir / "data", "acme/branchy", dir / "exp", "", "exp");
  REQUIRE(exp_import.exit_code == 0);
  auto server = ServerProcess::Start(dir / "data");
  HttpClient http(server->port());

  for (const std::string suffix : {"", "/revision/main", "/revision/HEAD"}) {
    INFO("GET /api/models/acme/branchy" << suffix);
    auto response = http.Get("/api/models/acme/branchy" + suffix);
    REQUIRE(response.status == 200);
    json info = Json(response);
    CHECK(info["sha"] == ParseCommitId(main_import));
    CHECK(info["cardData"]["license"] == "mit");
    CHECK(info["cardData"]["base_model"] == "acme/base-a");
    std::set<std::string> tags(info["tags"].begin(), info["tags"].end());
    CHECK(tags.count("base_model:acme/base-a") == 1);
    CHECK(tags.count("base_model:acme/base-b") == 0);
    CHECK(tags.count("license:apache-2.0") == 0);
    CHECK_FALSE(info.contains("pipeline_tag"));
  }
  auto lineage = Json(http.Get("/api/models/acme/branchy?expand=baseModels"));
  CHECK(Ids(lineage["baseModels"]["models"]) == std::vector<std::string>{"acme/base-a"});
  CHECK(Ids(Json(http.Get("/api/models?filter=base_model:acme/base-a"))) ==
        std::vector<std::string>{"acme/branchy"});
  CHECK(Json(http.Get("/api/models?filter=base_model:acme/base-b")) == json::array());
}

TEST_CASE("serve refuses a bad --listen with exit code 2", "[process]") {
  TempDir dir;
  for (const char* listen : {"nonsense", "127.0.0.1:99999", "127.0.0.1:", "not-an-ip:0"}) {
    INFO(listen);
    CommandResult result = RunHubmirror(
        {"serve", "--data", (dir / "data").string(), "--listen", listen}, std::chrono::seconds(10));
    CHECK(result.exit_code == 2);
    CHECK(StartsWith(result.err, "hubmirror: "));
  }
}

// ---------------------------------------------------------------------------------------------
// The World the endpoint families share
// ---------------------------------------------------------------------------------------------

// Hidden: CTest runs it once before the families (fixture api_world), never by default.
TEST_CASE("prepare the World the endpoint families copy", "[.api_world]") {
  const char* dir = std::getenv(kPreparedWorldVariable);
  REQUIRE(dir != nullptr);
  PrepareWorld(dir);
}

}  // namespace
}  // namespace hubmirror::testing
