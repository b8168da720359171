// What a revision holds and how it came to be: /tree listings and their pagination,
// paths-info, refs and the commit history.
#include <catch2/catch.hpp>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "tests/integration/api_fixture.h"

namespace hubmirror::testing {
namespace {

using nlohmann::json;

// ---------------------------------------------------------------------------------------------
// Tree
// ---------------------------------------------------------------------------------------------

void CheckEntry(const json& entry, const Files& files, bool expand) {
  std::string path = entry.at("path");
  INFO("entry " << entry.dump());
  CHECK_FALSE(entry.contains("xetHash"));
  CHECK(entry.contains("lastCommit") == expand);
  if (entry["type"] == "directory") {
    CHECK(std::regex_match(entry["oid"].get<std::string>(), kHex40));
    CHECK(entry["size"] == 0);
    CHECK_FALSE(entry.contains("lfs"));
    return;
  }
  REQUIRE(entry["type"] == "file");
  REQUIRE(files.count(path) == 1);
  FileFacts facts = Facts(path, files.at(path));
  CHECK(entry["oid"] == facts.git_oid);
  CHECK(entry["size"] == facts.content.size());
  if (facts.lfs) {
    CHECK(entry["lfs"] == json({{"oid", facts.sha256},
                                {"size", facts.content.size()},
                                {"pointerSize", facts.pointer.size()}}));
  } else {
    CHECK_FALSE(entry.contains("lfs"));
  }
}

// The entries under `directory` ("" = root) the Hub lists: direct children only, directories
// first, then files, each sorted; or with `recursive`, every file and directory below.
std::vector<std::string> ExpectedListing(const Files& files, const std::string& directory,
                                         bool recursive) {
  std::set<std::string> dirs;
  std::set<std::string> leaves;
  std::string prefix = directory.empty() ? "" : directory + "/";
  for (const auto& [path, content] : files) {
    if (!StartsWith(path, prefix)) continue;
    std::string rest = path.substr(prefix.size());
    size_t slash = rest.find('/');
    if (!recursive) {
      if (slash == std::string::npos) {
        leaves.insert(path);
      } else {
        dirs.insert(prefix + rest.substr(0, slash));
      }
      continue;
    }
    leaves.insert(path);
    for (; slash != std::string::npos; slash = rest.find('/', slash + 1)) {
      dirs.insert(prefix + rest.substr(0, slash));
    }
  }
  std::vector<std::string> out(dirs.begin(), dirs.end());
  out.insert(out.end(), leaves.begin(), leaves.end());
  return out;
}

TEST_CASE("tree: root, recursive and subpath listings", "[tree]") {
  World& world = Shared();
  const std::string base = std::string("/api/models/") + kModel + "/tree/";
  struct Case {
    std::string target;
    const Files* files;
    std::string directory;
    bool recursive;
  };
  std::vector<Case> cases = {
      {base + "main", &world.model_v2, "", false},
      {base + "main/", &world.model_v2, "", false},
      {base + "HEAD", &world.model_v2, "", false},
      {base + world.commit1, &world.model_v1, "", false},
      {base + "main?recursive=true", &world.model_v2, "", true},
      {base + "main?recursive=True", &world.model_v2, "", true},
      {base + "main?recursive=1", &world.model_v2, "", true},
      {base + "main?recursive=false", &world.model_v2, "", false},
      {base + "main?recursive=False&expand=False", &world.model_v2, "", false},
      {base + world.commit1 + "?recursive=true", &world.model_v1, "", true},
      {base + "main/nested", &world.model_v2, "nested", false},
      {base + "main/nested?recursive=true", &world.model_v2, "nested", true},
      {base + "main/nested/deep", &world.model_v2, "nested/deep", false},
      {base + "main/nested%2Fdeep", &world.model_v2, "nested/deep", false},
      {base + "main/unicode", &world.model_v2, "unicode", false},
      {base + "dev/nested/", &world.model_v1, "nested", false},
  };
  for (const auto& c : cases) {
    INFO("GET " << c.target);
    auto response = world.http().Get(c.target);
    REQUIRE(response.status == 200);
    CheckCors(response);
    CHECK_FALSE(response.Has("Link"));
    json listing = Json(response);
    REQUIRE(listing.is_array());
    auto paths = Paths(listing);
    auto expected = ExpectedListing(*c.files, c.directory, c.recursive);
    if (c.recursive) {
      CHECK(std::set<std::string>(paths.begin(), paths.end()) ==
            std::set<std::string>(expected.begin(), expected.end()));
      CHECK(paths.size() == expected.size());
    } else {
      CHECK(paths == expected);
    }
    for (const auto& entry : listing) CheckEntry(entry, *c.files, false);
  }
}

TEST_CASE("tree: expand=true adds lastCommit, never xetHash", "[tree]") {
  World& world = Shared();
  auto commits = Json(world.http().Get(std::string("/api/models/") + kModel + "/commits/main"));
  REQUIRE(commits.size() == 2);
  std::map<std::string, std::string> dates;
  for (const auto& commit : commits) {
    dates[commit["id"].get<std::string>()] = commit["date"].get<std::string>();
  }

  auto response = world.http().Get(std::string("/api/models/") + kModel +
                                   "/tree/main?recursive=true&expand=true");
  REQUIRE(response.status == 200);
  json listing = Json(response);
  CHECK_FALSE(ContainsKey(listing, "xetHash"));
  std::map<std::string, std::string> last;
  for (const auto& entry : listing) {
    CheckEntry(entry, world.model_v2, true);
    const json& commit = entry["lastCommit"];
    CHECK(KeysOf(commit) == std::set<std::string>{"id", "title", "date"});
    CHECK(commit["title"] == kCommitTitle);
    CHECK(commit["date"] == dates[commit["id"].get<std::string>()]);
    last[entry["path"].get<std::string>()] = commit["id"].get<std::string>();
  }
  // Unchanged entries keep the commit that last changed them.
  CHECK(last["config.json"] == world.commit1);
  CHECK(last["model.safetensors"] == world.commit1);
  CHECK(last["nested"] == world.commit1);
  CHECK(last["nested/deep/read me.txt"] == world.commit1);
  CHECK(last["tokenizer.json"] == world.commit2);
  CHECK(last["added.txt"] == world.commit2);
}

TEST_CASE("tree: errors", "[tree][errors]") {
  World& world = Shared();
  const std::string base = std::string("/api/models/") + kModel + "/tree/";
  CheckError(world.http().Get(base + "main/nope"), 404, "EntryNotFound", true);
  CheckError(world.http().Get(base + "main/nested/nope"), 404, "EntryNotFound", true);
  CheckError(world.http().Get(base + "main/additional_chat_templates?recursive=false"), 404,
             "EntryNotFound", true);
  CheckError(world.http().Get(base + world.commit2 + "/removed.txt"), 404, "EntryNotFound", true);
  CheckError(world.http().Get(base + "nope"), 404, "RevisionNotFound", true);
  CheckError(world.http().Get("/api/models/acme/nope/tree/main"), 404, "RepoNotFound", true);
  CheckError(world.http().Get(base + "main?cursor=abc"), 400, "BadRequest", true);
  CheckError(world.http().Get(base + "main?cursor=-1"), 400, "BadRequest", true);
}

TEST_CASE("tree: pagination through absolute Link URLs", "[tree][pagination]") {
  World& world = Shared();
  const std::string base = "/api/models/acme/many/tree/main";
  struct Case {
    std::string target;
    size_t total;
    size_t page;
    bool expand;
  };
  std::vector<Case> cases = {
      {base + "?recursive=true", kManyFiles + 1, 1000, false},
      {base + "?recursive=1&foo=bar", kManyFiles + 1, 1000, false},
      {base + "/many", kManyFiles, 1000, false},
      {base + "/many?expand=true", kManyFiles, 50, true},
      {base + "?expand=true&recursive=true", kManyFiles + 1, 50, true},
  };
  for (const auto& c : cases) {
    INFO("first page " << c.target);
    auto pages = FollowPages(world.http(), c.target, {"cursor"});
    REQUIRE(pages.size() == (c.total + c.page - 1) / c.page);
    std::set<std::string> paths;
    size_t count = 0;
    for (size_t i = 0; i < pages.size(); ++i) {
      size_t expected = i + 1 < pages.size() ? c.page : c.total - c.page * (pages.size() - 1);
      CHECK(pages[i].size() == expected);
      for (const auto& entry : pages[i]) {
        paths.insert(entry["path"].get<std::string>());
        CHECK(entry.contains("lastCommit") == c.expand);
        ++count;
      }
    }
    CHECK(count == c.total);
    CHECK(paths.size() == c.total);  // no entry twice, none skipped
    CHECK(paths.count("many/f0001.txt") == 1);
    CHECK(paths.count("many/f1100.txt") == 1);
  }
}

// ---------------------------------------------------------------------------------------------
// paths-info
// ---------------------------------------------------------------------------------------------

TEST_CASE("paths-info: form and JSON bodies", "[paths-info]") {
  World& world = Shared();
  const std::string main_target = std::string("/api/models/") + kModel + "/paths-info/main";
  const std::string old_target =
      std::string("/api/models/") + kModel + "/paths-info/" + world.commit1;
  const std::string form = "application/x-www-form-urlencoded";
  struct Case {
    std::string name;
    std::string target;
    std::string content_type;
    std::string body;
    std::vector<std::string> paths;  // expected, in order
    bool expand;
    const Files* files;
  };
  std::vector<Case> cases = {
      {"form with expand",
       main_target,
       form,
       "paths=config.json&paths=nested&paths=missing.txt&expand=true",
       {"config.json", "nested"},
       true,
       &world.model_v2},
      {"form, PY0 booleans",
       main_target,
       form,
       "paths=config.json&expand=False",
       {"config.json"},
       false,
       &world.model_v2},
      {"form with escapes",
       main_target,
       form,
       "paths=nested%2Fdeep%2Fread+me.txt&paths=plus%2Bsign.txt&paths=unicode%2Fcaf%C3%A9.txt",
       {"nested/deep/read me.txt", "plus+sign.txt", "unicode/caf\xc3\xa9.txt"},
       false,
       &world.model_v2},
      {"json",
       main_target,
       "application/json",
       R"({"paths": ["model.safetensors", "original\\consolidated.00.pth", "nope"]})",
       {"model.safetensors", "original\\consolidated.00.pth"},
       false,
       &world.model_v2},
      {"json with expand",
       main_target,
       "application/json",
       R"({"paths": ["tokenizer.json", "nested/deep"], "expand": true})",
       {"tokenizer.json", "nested/deep"},
       true,
       &world.model_v2},
      {"trailing slash",
       main_target,
       "application/json",
       R"({"paths": ["nested/"]})",
       {"nested"},
       false,
       &world.model_v2},
      {"old commit",
       old_target,
       form,
       "paths=removed.txt&paths=added.txt",
       {"removed.txt"},
       false,
       &world.model_v1},
      {"none exist", main_target, form, "paths=nope&paths=removed.txt", {}, false, &world.model_v2},
      {"empty form", main_target, form, "", {}, false, &world.model_v2},
      {"empty list",
       main_target,
       "application/json",
       R"({"paths": []})",
       {},
       false,
       &world.model_v2},
      {"hostile paths are simply absent",
       main_target,
       form,
       "paths=..%2Fconfig.json&paths=%2Fconfig.json&paths=.&paths=a%2F..%2Fconfig.json&paths=" +
           std::string(5000, 'a'),
       {},
       false,
       &world.model_v2},
      {"dataset",
       "/api/datasets/acme/data/paths-info/main",
       form,
       "paths=data%2Ftrain.csv",
       {"data/train.csv"},
       false,
       &world.dataset},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    auto response = world.http().Post(c.target, c.content_type, c.body);
    REQUIRE(response.status == 200);
    CheckCors(response);
    json listing = Json(response);
    REQUIRE(listing.is_array());
    CHECK(Paths(listing) == c.paths);
    for (const auto& entry : listing) CheckEntry(entry, *c.files, c.expand);
  }
  // A chunked request body is read like any other.
  auto chunked = world.http().SendRaw("POST " + main_target +
                                      " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                                      "Content-Type: application/x-www-form-urlencoded\r\n"
                                      "Transfer-Encoding: chunked\r\n\r\n"
                                      "6\r\npaths=\r\nb\r\nconfig.json\r\n0\r\n\r\n");
  REQUIRE(chunked.status == 200);
  CHECK(Paths(Json(chunked)) == std::vector<std::string>{"config.json"});
}

TEST_CASE("paths-info: media types match case-insensitively (RFC 9110 8.3.1)",
          "[paths-info][rfc]") {
  World& world = Shared();
  const std::string target = std::string("/api/models/") + kModel + "/paths-info/main";
  for (const char* type : {"application/json", "application/json; charset=utf-8",
                           "Application/JSON", "APPLICATION/JSON; charset=UTF-8"}) {
    INFO("Content-Type: " << type);
    auto response = world.http().Post(target, type, R"({"paths": ["config.json"]})");
    REQUIRE(response.status == 200);
    CHECK(Paths(Json(response)) == std::vector<std::string>{"config.json"});
  }
}

TEST_CASE("paths-info: errors", "[paths-info][errors]") {
  World& world = Shared();
  const std::string target = std::string("/api/models/") + kModel + "/paths-info/main";
  const std::string form = "application/x-www-form-urlencoded";
  for (const std::string& body :
       {std::string("{"), std::string(R"({"paths": "config.json"})"),
        std::string(R"({"paths": [1]})"), std::string("[]"), std::string(R"({"nope": []})")}) {
    INFO("JSON body " << body);
    CheckError(world.http().Post(target, "application/json", body), 400, "BadRequest", true);
  }
  CheckError(world.http().Post(target, form, "paths=%zz"), 400, "BadRequest", true);
  std::string many;
  for (int i = 0; i <= 10000; ++i) many += "paths=x&";
  CheckError(world.http().Post(target, form, many), 400, "BadRequest", true);
  CheckError(world.http().Post(std::string("/api/models/") + kModel + "/paths-info/nope", form,
                               "paths=config.json"),
             404, "RevisionNotFound", true);
  CheckError(world.http().Post("/api/models/acme/nope/paths-info/main", form, "paths=config.json"),
             404, "RepoNotFound", true);
  CheckError(world.http().Get(target), 405, "MethodNotAllowed", true);
  // An "expand" that is not a boolean is not true: a plain answer, not a server error.
  auto odd = world.http().Post(target, "application/json",
                               R"({"paths": ["config.json"], "expand": "yes"})");
  CHECK(odd.status == 200);
  CHECK(odd.body.find("lastCommit") == std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// refs and commits
// ---------------------------------------------------------------------------------------------

TEST_CASE("refs: branches, converts and tags are always present", "[refs]") {
  World& world = Shared();
  auto response = world.http().Get(std::string("/api/models/") + kModel + "/refs");
  REQUIRE(response.status == 200);
  CheckCors(response);
  json refs = Json(response);
  CHECK(KeysOf(refs) == std::set<std::string>{"branches", "converts", "tags"});
  CHECK(refs["branches"] ==
        json::array(
            {{{"name", "dev"}, {"ref", "refs/heads/dev"}, {"targetCommit", world.dev_commit}},
             {{"name", "main"}, {"ref", "refs/heads/main"}, {"targetCommit", world.commit2}}}));
  CHECK(refs["converts"] == json::array());
  CHECK(refs["tags"] == json::array());
  auto with_prs =
      Json(world.http().Get(std::string("/api/models/") + kModel + "/refs?include_prs=1"));
  CHECK(with_prs["pullRequests"] == json::array());

  auto dataset = Json(world.http().Get("/api/datasets/acme/data/refs"));
  CHECK(dataset["branches"] == json::array({{{"name", "main"},
                                             {"ref", "refs/heads/main"},
                                             {"targetCommit", world.dataset_commit}}}));
  CheckError(world.http().Get("/api/models/acme/nope/refs"), 404, "RepoNotFound", true);
}

TEST_CASE("commits: history, X-Total-Count and page links", "[commits]") {
  World& world = Shared();
  const std::string base = std::string("/api/models/") + kModel + "/commits/";
  auto response = world.http().Get(base + "main");
  REQUIRE(response.status == 200);
  CheckCors(response);
  CHECK(response.HeaderOr("X-Total-Count") == "2");
  CHECK_FALSE(response.Has("Link"));
  json commits = Json(response);
  REQUIRE(commits.size() == 2);
  CHECK(Ids(commits) == std::vector<std::string>{world.commit2, world.commit1});
  for (const auto& commit : commits) {
    CHECK(commit["title"] == kCommitTitle);
    CHECK(commit["message"].is_string());
    REQUIRE(commit["authors"].is_array());
    REQUIRE(commit["authors"].size() == 1);
    CHECK(commit["authors"][0]["user"].is_string());
    CHECK(std::regex_match(commit["date"].get<std::string>(), kIsoMillis));
  }
  auto old = world.http().Get(base + world.commit1);
  CHECK(old.HeaderOr("X-Total-Count") == "1");
  CHECK(Ids(Json(old)) == std::vector<std::string>{world.commit1});
  auto dev = world.http().Get(base + "dev");
  CHECK(Ids(Json(dev)) == std::vector<std::string>{world.dev_commit});

  auto first = world.http().Get(base + "main?limit=1");
  REQUIRE(first.status == 200);
  CHECK(first.HeaderOr("X-Total-Count") == "2");
  CHECK(Ids(Json(first)) == std::vector<std::string>{world.commit2});
  auto next = NextTarget(world.http(), first, base + "main?limit=1", {"p", "limit"});
  REQUIRE(next.has_value());
  auto pairs = QueryPairs(*next);
  CHECK(pairs.count("p=1") == 1);
  CHECK(pairs.count("limit=1") == 1);
  auto second = world.http().Get(*next);
  REQUIRE(second.status == 200);
  CHECK(Ids(Json(second)) == std::vector<std::string>{world.commit1});
  CHECK_FALSE(second.Has("Link"));
  auto pages = FollowPages(world.http(), base + "main?limit=1", {"p", "limit"});
  CHECK(pages.size() == 2);

  auto beyond = world.http().Get(base + "main?p=5");
  CHECK(beyond.status == 200);
  CHECK(Json(beyond) == json::array());
  for (const char* bad : {"main?limit=0", "main?limit=x", "main?p=-1", "main?limit=1.5"}) {
    INFO(bad);
    CheckError(world.http().Get(base + bad), 400, "BadRequest", true);
  }
  CheckError(world.http().Get(base + "nope"), 404, "RevisionNotFound", true);
  CheckError(world.http().Get("/api/models/acme/nope/commits/main"), 404, "RepoNotFound", true);
}

}  // namespace
}  // namespace hubmirror::testing
