#include "api/router.h"

#include <catch2/catch.hpp>

namespace hubmirror::api {
namespace {

TEST_CASE("routes the Hub's URL grammar", "[router]") {
  struct Case {
    std::string target;
    Endpoint endpoint;
    RepoType type;
    std::string repo;
    std::string revision;
    std::string path;
  };
  auto c = GENERATE(values<Case>({
      {"/healthz", Endpoint::kHealth, RepoType::kModel, "", "", ""},
      {"/acme/m/resolve/main/config.json", Endpoint::kResolve, RepoType::kModel, "acme/m", "main",
       "config.json"},
      {"/acme/m/resolve/main/a/b%20c.bin?download=true", Endpoint::kResolve, RepoType::kModel,
       "acme/m", "main", "a/b c.bin"},
      {"/datasets/acme/d/raw/v1.0/data/x.parquet", Endpoint::kRaw, RepoType::kDataset, "acme/d",
       "v1.0", "data/x.parquet"},
      {"/gpt2/resolve/main/config.json", Endpoint::kResolve, RepoType::kModel, "gpt2", "main",
       "config.json"},
      {"/acme/m/resolve/refs%2Fpr%2F1/f", Endpoint::kResolve, RepoType::kModel, "acme/m",
       "refs/pr/1", "f"},
      {"/acme/m/resolve/refs/pr/1/f", Endpoint::kResolve, RepoType::kModel, "acme/m", "refs/pr/1",
       "f"},
      {"/acme/m/resolve/feature%2Fx/f", Endpoint::kResolve, RepoType::kModel, "acme/m", "feature/x",
       "f"},
      {"/acme/m/resolve/main/original%5Cconsolidated.00.pth", Endpoint::kResolve, RepoType::kModel,
       "acme/m", "main", "original\\consolidated.00.pth"},
      {"/api/models", Endpoint::kListRepos, RepoType::kModel, "", "", ""},
      {"/api/datasets?search=x", Endpoint::kListRepos, RepoType::kDataset, "", "", ""},
      {"/api/models/acme/m", Endpoint::kRepoInfo, RepoType::kModel, "acme/m", "HEAD", ""},
      {"/api/models/acme/m/revision/HEAD", Endpoint::kRepoInfo, RepoType::kModel, "acme/m", "HEAD",
       ""},
      {"/api/models/gpt2/revision/main", Endpoint::kRepoInfo, RepoType::kModel, "gpt2", "main", ""},
      {"/api/models/acme/m/tree/main", Endpoint::kTree, RepoType::kModel, "acme/m", "main", ""},
      {"/api/models/acme/m/tree/main/", Endpoint::kTree, RepoType::kModel, "acme/m", "main", ""},
      {"/api/models/acme/m/tree/main/a/b", Endpoint::kTree, RepoType::kModel, "acme/m", "main",
       "a/b"},
      {"/api/models/acme/m/tree/main/a%2Fb", Endpoint::kTree, RepoType::kModel, "acme/m", "main",
       "a/b"},
      {"/api/models/acme/m/tree/refs/convert/parquet/x", Endpoint::kTree, RepoType::kModel,
       "acme/m", "refs/convert/parquet", "x"},
      {"/api/datasets/acme/d/paths-info/main", Endpoint::kPathsInfo, RepoType::kDataset, "acme/d",
       "main", ""},
      {"/api/models/acme/m/refs", Endpoint::kRefs, RepoType::kModel, "acme/m", "", ""},
      {"/api/models/acme/m/commits/main", Endpoint::kCommits, RepoType::kModel, "acme/m", "main",
       ""},
      // A repo whose name is an action keyword: read as two segments when the legacy reading
      // names no endpoint; a legacy id keeps its meaning otherwise.
      {"/acme/refs/resolve/main/README.md", Endpoint::kResolve, RepoType::kModel, "acme/refs",
       "main", "README.md"},
      {"/datasets/acme/tree/raw/refs/pr/2/x", Endpoint::kRaw, RepoType::kDataset, "acme/tree",
       "refs/pr/2", "x"},
      {"/api/models/acme/refs/refs", Endpoint::kRefs, RepoType::kModel, "acme/refs", "", ""},
      {"/api/models/acme/commits/tree/main/a", Endpoint::kTree, RepoType::kModel, "acme/commits",
       "main", "a"},
      {"/api/lineage/models/acme/refs", Endpoint::kLineage, RepoType::kModel, "acme/refs", "", ""},
      {"/api/models/gpt2/refs", Endpoint::kRefs, RepoType::kModel, "gpt2", "", ""},
      {"/gpt2/resolve/refs/pr/3/x", Endpoint::kResolve, RepoType::kModel, "gpt2", "refs/pr/3", "x"},
      {"/api/whoami-v2", Endpoint::kWhoami, RepoType::kModel, "", "", ""},
      {"/api/telemetry/x/y", Endpoint::kTelemetry, RepoType::kModel, "", "", ""},
  }));
  INFO("target: " << c.target);
  auto route = MatchRoute(c.target);
  REQUIRE(route.ok());
  CHECK(route->endpoint == c.endpoint);
  CHECK(route->type == c.type);
  CHECK(route->repo == c.repo);
  CHECK(route->revision == c.revision);
  CHECK(route->path == c.path);
}

TEST_CASE("hostile and malformed targets are refused", "[router]") {
  struct Case {
    std::string target;
    StatusCode code;
  };
  auto c = GENERATE(values<Case>({
      {"/acme/m/resolve/main/../../etc/passwd", StatusCode::kInvalidArgument},
      {"/acme/m/resolve/main/%2e%2e/%2e%2e/etc/passwd", StatusCode::kInvalidArgument},
      {"/acme/m/resolve/main/a%2F..%2Fb", StatusCode::kInvalidArgument},
      {"/acme/m/resolve/main/./x", StatusCode::kInvalidArgument},
      {"/acme/m/resolve/main/a%00b", StatusCode::kInvalidArgument},
      {"/acme/m/resolve/main/a%0d%0aX-Injected:1", StatusCode::kInvalidArgument},
      {"/acme/m/resolve/main/a//b", StatusCode::kInvalidArgument},
      {"/acme/m/resolve/main/", StatusCode::kInvalidArgument},
      {"/acme%2Fm/x/resolve/main/f", StatusCode::kInvalidArgument},
      {"/api/models/acme%2Fm/refs", StatusCode::kInvalidArgument},
      {"/api/models/..%2F..%2Fetc/refs", StatusCode::kInvalidArgument},
      {"/acme/m/resolve/main/%zz", StatusCode::kInvalidArgument},
      {"/acme/" + std::string(200, 'x') + "/resolve/main/f", StatusCode::kInvalidArgument},
      {"/acme/m/resolve/main/" + std::string(300, 'x'), StatusCode::kInvalidArgument},
      {"/acme/m/resolve/" + std::string(300, 'r') + "/f", StatusCode::kInvalidArgument},
      {"/" + std::string(9000, 'x'), StatusCode::kInvalidArgument},
      {"relative/path", StatusCode::kInvalidArgument},
      {"/favicon.ico", StatusCode::kNotFound},
      {"/acme/m/blob/main/f", StatusCode::kNotFound},
      {"/api/spaces/acme/s", StatusCode::kNotFound},
      {"/api/models/acme/m/unknown", StatusCode::kNotFound},
      {"/api/models/acme/m/refs/extra", StatusCode::kNotFound},
      {"/-/nope", StatusCode::kNotFound},
      {"/-/models/a/b/c", StatusCode::kNotFound},
      {"/-/assets/Hub.css", StatusCode::kNotFound},
      {"/-/assets/%2e%2e", StatusCode::kInvalidArgument},
      {"/-/lineage/acme%2Fm", StatusCode::kInvalidArgument},
  }));
  INFO("target: " << c.target);
  auto route = MatchRoute(c.target);
  REQUIRE_FALSE(route.ok());
  CHECK(route.status().code() == c.code);
}

TEST_CASE("the web UI's pages live at / and under /-/, where no repo id starts", "[router]") {
  struct Case {
    std::string target;
    std::string page;
    RepoType type;
    std::string repo;
  };
  auto c = GENERATE(values<Case>({
      {"/", "list", RepoType::kModel, ""},
      {"/-/models", "list", RepoType::kModel, ""},
      {"/-/datasets?q=x", "list", RepoType::kDataset, ""},
      {"/-/models/acme/m", "repo", RepoType::kModel, "acme/m"},
      {"/-/models/gpt2", "repo", RepoType::kModel, "gpt2"},
      {"/-/models/acme/refs", "repo", RepoType::kModel, "acme/refs"},
      {"/-/datasets/acme/d", "repo", RepoType::kDataset, "acme/d"},
      {"/-/lineage/acme/m", "lineage", RepoType::kModel, "acme/m"},
      {"/-/access/datasets/acme/d", "access", RepoType::kDataset, "acme/d"},
      {"/-/status", "status", RepoType::kModel, ""},
      {"/-/integrity", "integrity", RepoType::kModel, ""},
      {"/-/signin?next=/", "signin", RepoType::kModel, ""},
      {"/-/signout", "signout", RepoType::kModel, ""},
      {"/-/admin", "admin", RepoType::kModel, ""},
      {"/-/assets/hubmirror.css", "asset", RepoType::kModel, ""},
      // A repo's page address on the Hub, answered with a redirect to its page here.
      {"/acme/m", "hub-link", RepoType::kModel, "acme/m"},
      {"/datasets/acme/d", "hub-link", RepoType::kDataset, "acme/d"},
  }));
  INFO("target: " << c.target);
  auto route = MatchRoute(c.target);
  REQUIRE(route.ok());
  CHECK(route->endpoint == Endpoint::kPage);
  CHECK(route->item == c.page);
  CHECK(route->type == c.type);
  CHECK(route->repo == c.repo);
}

TEST_CASE("the Hub's file routes keep their meaning beside the pages", "[router]") {
  auto resolve = MatchRoute("/acme/m/resolve/main/f");
  REQUIRE(resolve.ok());
  CHECK(resolve->endpoint == Endpoint::kResolve);
  auto legacy = MatchRoute("/gpt2/resolve/main/f");
  REQUIRE(legacy.ok());
  CHECK(legacy->endpoint == Endpoint::kResolve);
  CHECK(legacy->repo == "gpt2");
  auto ask = MatchRoute("/acme/m/ask-access");
  REQUIRE(ask.ok());
  CHECK(ask->endpoint == Endpoint::kAskAccess);
}

}  // namespace
}  // namespace hubmirror::api
