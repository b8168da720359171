#include "registry/registry.h"

#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <cctype>
#include <chrono>
#include <random>
#include <thread>

#include "common/digest.h"
#include "migrations/embedded_migrations.h"
#include "registry/lineage_index.h"
#include "tests/support/temp_dir.h"

namespace hubmirror::registry {
namespace {

using testing::TempDir;

std::unique_ptr<Registry> OpenRegistry(const TempDir& dir) {
  auto registry = Registry::Open(dir / "registry.db", Registry::Mode::kReadWrite);
  REQUIRE(registry.ok());
  return std::move(registry.value());
}

Entry File(const std::string& path, const std::string& content, const std::string& commit,
           bool lfs = false) {
  Entry e;
  e.path = path;
  e.size = content.size();
  e.sha256 = Sha256Hex(content);
  e.git_oid =
      lfs ? GitObjectId("blob", LfsPointer(e.sha256, e.size)) : GitObjectId("blob", content);
  e.lfs = lfs;
  e.pointer_size = lfs ? LfsPointer(e.sha256, e.size).size() : 0;
  e.last_commit_id = commit;
  return e;
}

NewRevision Revision(const std::string& repo, const std::string& commit_id,
                     const std::string& parent_id, std::vector<Entry> entries) {
  NewRevision rev;
  rev.repo_name = repo;
  rev.branch = "main";
  rev.commit.id = commit_id;
  rev.commit.parent_id = parent_id;
  rev.commit.tree_id = Sha1Hex("tree" + commit_id);
  rev.commit.title = "title " + commit_id;
  rev.commit.message = "message\n";
  rev.commit.author = "tester";
  rev.commit.date_ms = 1700000000000;
  for (const auto& e : entries) {
    if (!e.is_directory) rev.blobs.push_back(BlobRow{e.sha256, e.size, e.git_oid});
  }
  rev.entries = std::move(entries);
  return rev;
}

void SetUserVersion(const std::filesystem::path& db_path, int version) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(db_path.c_str(), &db) == SQLITE_OK);
  std::string sql = "PRAGMA user_version = " + std::to_string(version);
  REQUIRE(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
}

TEST_CASE("migrations bring a new database to the latest version", "[migrations]") {
  TempDir dir;
  auto latest = migrations::EmbeddedMigrations().back().version;
  CHECK(OpenRegistry(dir)->SchemaVersion() == latest);
  // Reopening applies nothing and keeps the data.
  auto registry = OpenRegistry(dir);
  REQUIRE(registry->PublishRevision(Revision("acme/m", std::string(40, 'a'), "", {})).ok());
  registry.reset();
  CHECK(OpenRegistry(dir)->FindRepo(RepoType::kModel, "acme/m").ok());
}

TEST_CASE("migrations are versioned from 1 without gaps", "[migrations]") {
  int expected = 1;
  for (const auto& migration : migrations::EmbeddedMigrations()) {
    CHECK(migration.version == expected++);
  }
}

TEST_CASE("a database newer than the binary is refused with a clear error", "[migrations]") {
  TempDir dir;
  OpenRegistry(dir);
  SetUserVersion(dir / "registry.db", 999);
  auto registry = Registry::Open(dir / "registry.db", Registry::Mode::kReadWrite);
  REQUIRE_FALSE(registry.ok());
  CHECK(registry.status().code() == StatusCode::kFailedPrecondition);
  CHECK_THAT(registry.status().message(), Catch::Contains("999"));
  CHECK_THAT(registry.status().message(), Catch::Contains("registry.db"));
  auto reader = Registry::Open(dir / "registry.db", Registry::Mode::kReadOnly);
  CHECK_FALSE(reader.ok());
}

TEST_CASE("a failing migration leaves the database untouched", "[migrations]") {
  TempDir dir;
  // A table that collides with the first migration makes it fail half-way.
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open((dir / "registry.db").c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, "CREATE TABLE refs (x)", nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
  auto registry = Registry::Open(dir / "registry.db", Registry::Mode::kReadWrite);
  REQUIRE_FALSE(registry.ok());
  CHECK_THAT(registry.status().message(), Catch::Contains("0001_init.sql"));
  REQUIRE(sqlite3_open((dir / "registry.db").c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master WHERE name = 'repos'", -1, &stmt,
                     nullptr);
  REQUIRE(sqlite3_step(stmt) == SQLITE_ROW);
  CHECK(sqlite3_column_int(stmt, 0) == 0);  // the migration's first table was rolled back
  sqlite3_finalize(stmt);
  sqlite3_close(db);
}

TEST_CASE("read-only connections refuse writes", "[registry]") {
  TempDir dir;
  OpenRegistry(dir);
  auto reader = Registry::Open(dir / "registry.db", Registry::Mode::kReadOnly);
  REQUIRE(reader.ok());
  CHECK_FALSE((*reader)->PublishRevision(Revision("acme/m", std::string(40, 'a'), "", {})).ok());
}

TEST_CASE("publishing and resolving revisions", "[registry]") {
  TempDir dir;
  auto registry = OpenRegistry(dir);
  std::string c1(40, '1');
  std::string c2(40, '2');
  REQUIRE(registry
              ->PublishRevision(Revision("Acme/Model", c1, "",
                                         {File("config.json", "{}", c1),
                                          File("w/model.safetensors", "weights", c1, true)}))
              .value());
  auto repo = registry->FindRepo(RepoType::kModel, "acme/model");  // case-insensitive
  REQUIRE(repo.ok());
  CHECK(repo->name == "Acme/Model");
  CHECK(repo->author == "Acme");
  CHECK(IsLowerHex(repo->object_id, 24));
  CHECK(registry->FindRepo(RepoType::kDataset, "acme/model").status().code() ==
        StatusCode::kRepoNotFound);

  CHECK(registry->ResolveRevision(*repo, "main")->id == c1);
  CHECK(registry->ResolveRevision(*repo, "HEAD")->id == c1);
  CHECK(registry->ResolveRevision(*repo, c1)->id == c1);
  CHECK(registry->ResolveRevision(*repo, "nope").status().code() == StatusCode::kRevisionNotFound);
  CHECK(registry->ResolveRevision(*repo, std::string(40, 'f')).status().code() ==
        StatusCode::kRevisionNotFound);

  // Publishing the same head again changes nothing.
  CHECK_FALSE(registry->PublishRevision(Revision("Acme/Model", c1, "", {})).value());

  REQUIRE(registry->PublishRevision(Revision("Acme/Model", c2, c1, {File("config.json", "{}", c1)}))
              .value());
  CHECK(registry->ResolveRevision(*repo, "main")->id == c2);
  // The old commit stays readable by id, with its files.
  REQUIRE(registry->ResolveRevision(*repo, c1).ok());
  CHECK(registry->ListEntries(*repo, c1, "")->size() == 2);
  CHECK(registry->ListEntries(*repo, c2, "")->size() == 1);

  auto weights = registry->FindEntry(*repo, c1, "w/model.safetensors");
  REQUIRE(weights.ok());
  REQUIRE(weights->has_value());
  CHECK((*weights)->lfs);
  CHECK((*weights)->pointer_size == LfsPointer((*weights)->sha256, 7).size());
  CHECK((*weights)->last_commit_title == "title " + c1);
  CHECK_FALSE(registry->FindEntry(*repo, c2, "w/model.safetensors")->has_value());

  int64_t total = 0;
  auto history = registry->ListHistory(*repo, c2, 0, 10, &total);
  REQUIRE(history.ok());
  CHECK(total == 2);
  REQUIRE(history->size() == 2);
  CHECK((*history)[0].id == c2);
  CHECK((*history)[1].id == c1);
  auto second_page = registry->ListHistory(*repo, c2, 1, 1, &total);
  REQUIRE(second_page->size() == 1);
  CHECK((*second_page)[0].id == c1);

  auto refs = registry->ListRefs(*repo);
  REQUIRE(refs->size() == 1);
  CHECK((*refs)[0].kind == "branch");
  CHECK((*refs)[0].commit_id == c2);
}

TEST_CASE("revisions resolve tags, and a branch wins over a tag of the same name", "[registry]") {
  TempDir dir;
  std::string c1(40, '1');
  std::string c2(40, '2');
  {
    auto registry = OpenRegistry(dir);
    REQUIRE(registry->PublishRevision(Revision("acme/m", c1, "", {File("a", "1", c1)})).ok());
    NewRevision next = Revision("acme/m", c2, c1, {File("a", "2", c2)});
    next.branch = "v1";
    REQUIRE(registry->PublishRevision(next).ok());
  }
  // Tags come from upstreams; no local writer creates them yet, so add two by hand.
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open((dir / "registry.db").c_str(), &db) == SQLITE_OK);
  std::string sql =
      "INSERT INTO refs (repo_id, kind, name, commit_id) VALUES "
      "(1, 'tag', 'release', '" +
      c1 + "'), (1, 'tag', 'v1', '" + c1 + "')";
  REQUIRE(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);

  auto registry = OpenRegistry(dir);
  auto repo = registry->FindRepo(RepoType::kModel, "acme/m");
  CHECK(registry->ResolveRevision(*repo, "release")->id == c1);
  CHECK(registry->ResolveRevision(*repo, "v1")->id == c2);
  auto file = registry->ResolveFile(RepoType::kModel, "acme/m", "release", "a");
  REQUIRE(file.ok());
  CHECK(file->commit_id == c1);
  CHECK(registry->ResolveFile(RepoType::kModel, "acme/m", "v1", "a")->commit_id == c2);
  auto refs = registry->ListRefs(*repo);
  REQUIRE(refs->size() == 4);
}

TEST_CASE("ResolveFile tells which part of a download is missing", "[registry]") {
  TempDir dir;
  auto registry = OpenRegistry(dir);
  std::string c(40, 'c');
  REQUIRE(registry->PublishRevision(Revision("acme/m", c, "", {File("a/b", "x", c)})).ok());
  CHECK(registry->ResolveFile(RepoType::kModel, "acme/m", "HEAD", "a/b")->entry->path == "a/b");
  CHECK(registry->ResolveFile(RepoType::kModel, "ACME/M", c, "a/b")->entry.has_value());
  CHECK(registry->ResolveFile(RepoType::kModel, "acme/x", "main", "a/b").status().code() ==
        StatusCode::kRepoNotFound);
  CHECK(registry->ResolveFile(RepoType::kModel, "acme/m", "dev", "a/b").status().code() ==
        StatusCode::kRevisionNotFound);
  auto missing = registry->ResolveFile(RepoType::kModel, "acme/m", "main", "a/c");
  REQUIRE(missing.ok());
  CHECK_FALSE(missing->entry.has_value());
  CHECK(missing->commit_id == c);
}

TEST_CASE("entries under a directory use a prefix range, not a LIKE", "[registry]") {
  TempDir dir;
  auto registry = OpenRegistry(dir);
  std::string c(40, 'c');
  REQUIRE(
      registry
          ->PublishRevision(Revision("acme/m", c, "",
                                     {File("a/x", "1", c), File("a/y/z", "2", c),
                                      File("a%b", "3", c), File("a_", "4", c), File("ab", "5", c)}))
          .ok());
  auto repo = registry->FindRepo(RepoType::kModel, "acme/m");
  auto under_a = registry->ListEntries(*repo, c, "a");
  REQUIRE(under_a.ok());
  REQUIRE(under_a->size() == 2);
  CHECK((*under_a)[0].path == "a/x");
  CHECK((*under_a)[1].path == "a/y/z");
}

TEST_CASE("listing filters by search, author and tags, sorts and pages", "[registry]") {
  TempDir dir;
  auto registry = OpenRegistry(dir);
  auto publish = [&](const std::string& name, std::vector<std::string> tags, char commit) {
    NewRevision rev = Revision(name, std::string(40, commit), "", {});
    rev.commit.tags = std::move(tags);
    REQUIRE(registry->PublishRevision(rev).ok());
  };
  publish("acme/base", {"license:mit"}, '1');
  publish("acme/child", {"base_model:acme/base", "base_model:finetune:acme/base"}, '2');
  publish("other/quant", {"gguf", "base_model:acme/child", "base_model:quantized:acme/child"}, '3');
  publish("other/100%_sure", {}, '4');

  auto names = [&](RepoQuery query) {
    std::vector<std::string> out;
    auto repos = registry->ListRepos(query);
    REQUIRE(repos.ok());
    for (const auto& repo : *repos) out.push_back(repo.name);
    return out;
  };
  RepoQuery query;
  CHECK(names(query) ==
        std::vector<std::string>{"acme/base", "acme/child", "other/100%_sure", "other/quant"});
  query.search = {"CHI"};
  CHECK(names(query) == std::vector<std::string>{"acme/child"});
  query.search = {"%"};
  CHECK(names(query) == std::vector<std::string>{"other/100%_sure"});
  query.search = {};
  query.author = "Other";
  CHECK(names(query).size() == 2);
  query.author = "";
  query.tags = {"base_model:acme/base"};
  CHECK(names(query) == std::vector<std::string>{"acme/child"});
  query.tags = {"base_model:quantized:acme/child", "gguf"};
  CHECK(names(query) == std::vector<std::string>{"other/quant"});
  query.tags = {"base_model:quantized:acme/child", "license:mit"};
  CHECK(names(query).empty());
  query.tags = {};
  query.descending = true;
  query.limit = 2;
  query.offset = 1;
  CHECK(names(query) == std::vector<std::string>{"other/100%_sure", "acme/child"});
  query.sort = "bogus";
  CHECK(registry->ListRepos(query).status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("lineage edges: parents, child counts, and re-publication replaces card edges",
          "[registry]") {
  TempDir dir;
  auto registry = OpenRegistry(dir);
  NewRevision rev = Revision("acme/merge", std::string(40, '1'), "", {});
  rev.lineage = {LineageEdge{"acme/merge", "a/one", "merge", "card", false},
                 LineageEdge{"acme/merge", "B/Two", "merge", "card", false}};
  REQUIRE(registry->PublishRevision(rev).ok());
  auto parents = registry->ParentEdges("ACME/merge");
  REQUIRE(parents->size() == 2);
  CHECK((*parents)[1].parent == "B/Two");
  CHECK(registry->ChildCountsByRelation("b/two")->at("merge") == 1);

  NewRevision next = Revision("acme/merge", std::string(40, '2'), std::string(40, '1'), {});
  next.lineage = {LineageEdge{"acme/merge", "a/one", "finetune", "card", true}};
  REQUIRE(registry->PublishRevision(next).ok());
  parents = registry->ParentEdges("acme/merge");
  REQUIRE(parents->size() == 1);
  CHECK((*parents)[0].relation == "finetune");
  CHECK((*parents)[0].inferred);
  CHECK(registry->ChildCountsByRelation("b/two")->empty());
}

// Publishes `child` with these card edges (parent, relation).
void PublishWithParents(Registry& registry, const std::string& child, char commit,
                        std::vector<std::pair<std::string, std::string>> parents) {
  NewRevision rev = Revision(child, std::string(40, commit), "", {});
  for (const auto& [parent, relation] : parents) {
    rev.lineage.push_back(LineageEdge{child, parent, relation, "card", false});
  }
  REQUIRE(registry.PublishRevision(rev).ok());
}

std::vector<std::string> EdgeList(const LineageGraph& graph) {
  std::vector<std::string> out;
  for (const auto& e : graph.edges) out.push_back(e.child + ">" + e.parent + ":" + e.relation);
  return out;
}

TEST_CASE("lineage: chains, adapters, merges, depth and relation filters", "[lineage]") {
  TempDir dir;
  auto registry = OpenRegistry(dir);
  PublishWithParents(*registry, "org/base", '1', {});
  PublishWithParents(*registry, "org/tuned", '2', {{"org/base", "finetune"}});
  PublishWithParents(*registry, "org/tuned-q4", '3', {{"org/tuned", "quantized"}});
  PublishWithParents(*registry, "org/tuned-lora", '4', {{"org/tuned", "adapter"}});
  PublishWithParents(*registry, "org/merged", '5',
                     {{"org/tuned", "merge"}, {"other/absent", "merge"}});

  auto up = registry->Lineage("ORG/TUNED-Q4", LineageDirection::kUp, 0, "");
  REQUIRE(up.ok());
  CHECK(EdgeList(*up) == std::vector<std::string>{"org/tuned>org/base:finetune",
                                                  "org/tuned-q4>org/tuned:quantized"});
  REQUIRE(up->nodes.size() == 3);
  CHECK(up->nodes[0].id == "org/tuned-q4");  // the model first, with its published case
  CHECK(up->nodes[0].mirrored);

  auto merged = registry->Lineage("org/merged", LineageDirection::kUp, 0, "");
  CHECK(EdgeList(*merged).size() == 3);  // both parents, then the base of one of them
  bool absent_listed = false;
  for (const auto& node : merged->nodes) {
    if (node.id == "other/absent") {
      absent_listed = true;
      CHECK_FALSE(node.mirrored);  // known, not mirrored
    }
  }
  CHECK(absent_listed);

  auto down = registry->Lineage("org/base", LineageDirection::kDown, 0, "");
  CHECK(EdgeList(*down).size() == 4);
  CHECK(registry->Lineage("org/base", LineageDirection::kDown, 1, "")->edges.size() == 1);
  auto quantized = registry->Lineage("org/tuned", LineageDirection::kDown, 0, "quantized");
  CHECK(EdgeList(*quantized) == std::vector<std::string>{"org/tuned-q4>org/tuned:quantized"});
  auto both = registry->Lineage("org/tuned", LineageDirection::kBoth, 0, "");
  CHECK(both->edges.size() == 4);
  auto unknown = registry->Lineage("nobody/nothing", LineageDirection::kBoth, 0, "");
  CHECK(unknown->edges.empty());
  REQUIRE(unknown->nodes.size() == 1);
  CHECK_FALSE(unknown->nodes[0].mirrored);
}

TEST_CASE("lineage: cycles and self-references terminate", "[lineage]") {
  TempDir dir;
  auto registry = OpenRegistry(dir);
  PublishWithParents(*registry, "a/one", '1', {{"a/two", "finetune"}});
  PublishWithParents(*registry, "a/two", '2', {{"A/Three", "finetune"}});
  PublishWithParents(*registry, "a/three", '3', {{"a/one", "finetune"}, {"a/three", "merge"}});
  for (auto direction : {LineageDirection::kUp, LineageDirection::kDown, LineageDirection::kBoth}) {
    auto graph = registry->Lineage("a/one", direction, 0, "");
    REQUIRE(graph.ok());
    CHECK(graph->edges.size() == 4);
    CHECK(graph->nodes.size() == 3);
  }
}

TEST_CASE("sync state keeps the last success through failures", "[registry]") {
  TempDir dir;
  auto registry = OpenRegistry(dir);
  SyncState ok{RepoType::kModel,     "Acme/M", "main", "http://up", std::string(40, 'a'),
               std::string(40, 'a'), 1000,     1000,   ""};
  REQUIRE(registry->RecordSync(ok).ok());
  SyncState failed{RepoType::kModel,      "acme/m", "main", "http://up",
                   std::string(40, 'b'),  "",       2000,   0,
                   "upstream unreachable"};
  REQUIRE(registry->RecordSync(failed).ok());
  auto states = registry->ListSyncStates();
  REQUIRE(states->size() == 1);
  const SyncState& state = (*states)[0];
  CHECK(state.upstream_commit == std::string(40, 'b'));
  CHECK(state.local_commit == std::string(40, 'a'));
  CHECK(state.last_success_ms == 1000);
  CHECK(state.last_check_ms == 2000);
  CHECK(state.last_error == "upstream unreachable");
  ok.last_check_ms = ok.last_success_ms = 3000;
  REQUIRE(registry->RecordSync(ok).ok());
  states = registry->ListSyncStates();
  CHECK((*states)[0].last_error.empty());
  CHECK((*states)[0].last_success_ms == 3000);
  CHECK((*states)[0].upstream_commit == std::string(40, 'a'));
}

TEST_CASE("the in-memory lineage index answers exactly as the SQL walk", "[lineage]") {
  TempDir dir;
  auto registry = OpenRegistry(dir);
  // A small dense graph with everything real cards contain: chains, merges, cycles,
  // self-references, several relations, and ids spelt in several cases.
  std::mt19937 random(7);
  const std::vector<std::string> relations = {"finetune", "adapter", "quantized", "merge"};
  auto spelt = [&](int model) {
    std::string id = "org/m" + std::to_string(model);
    if (random() % 4 == 0) id[random() % id.size()] = static_cast<char>(std::toupper(id[0]));
    if (random() % 5 == 0) id = "ORG/M" + std::to_string(model);
    return id;
  };
  std::vector<LineageEdge> edges;
  for (int child = 0; child < 60; ++child) {
    for (int k = 0, parents = static_cast<int>(random() % 3); k < parents; ++k) {
      int parent = static_cast<int>(random() % 60);
      edges.push_back(LineageEdge{spelt(child), spelt(parent), relations[random() % 4],
                                  random() % 2 ? "card" : "listing", random() % 2 == 0});
    }
  }
  REQUIRE(registry->AddLineageEdges(edges).ok());
  std::vector<ModelDetails> details;
  for (int model = 0; model < 60; model += 3) {
    details.push_back({"Org/M" + std::to_string(model), "text-generation", "transformers", model});
  }
  REQUIRE(registry->RecordModelDetails(details).ok());
  REQUIRE(registry->PublishRevision(Revision("org/m7", std::string(40, 'a'), "", {})).ok());

  auto index = LineageIndex::Build(*registry);
  REQUIRE(index.ok());
  CHECK((*index)->generation() == registry->LineageGeneration().value());
  size_t compared_edges = 0;
  for (int model = 0; model < 62; ++model) {
    std::string id = model % 2 ? "org/m" + std::to_string(model) : "ORG/m" + std::to_string(model);
    for (auto direction :
         {LineageDirection::kUp, LineageDirection::kDown, LineageDirection::kBoth}) {
      for (int depth : {0, 1, 2}) {
        for (std::string relation : {"", "merge", "quantized", "unknown"}) {
          INFO(id << " direction " << static_cast<int>(direction) << " depth " << depth
                  << " relation '" << relation << "'");
          auto sql = registry->Lineage(id, direction, depth, relation);
          REQUIRE(sql.ok());
          LineageGraph memory = (*index)->Lineage(id, direction, depth, relation);
          REQUIRE(memory.nodes.size() == sql->nodes.size());
          for (size_t n = 0; n < memory.nodes.size(); ++n) {
            const LineageNode& a = memory.nodes[n];
            const LineageNode& b = sql->nodes[n];
            CHECK(std::tie(a.id, a.mirrored, a.pipeline_tag, a.library_name, a.downloads,
                           a.described) == std::tie(b.id, b.mirrored, b.pipeline_tag,
                                                    b.library_name, b.downloads, b.described));
          }
          REQUIRE(memory.edges.size() == sql->edges.size());
          for (size_t e = 0; e < memory.edges.size(); ++e) {
            const LineageEdge& a = memory.edges[e];
            const LineageEdge& b = sql->edges[e];
            CHECK(std::tie(a.child, a.parent, a.relation, a.source, a.inferred) ==
                  std::tie(b.child, b.parent, b.relation, b.source, b.inferred));
          }
          compared_edges += memory.edges.size();
          CHECK(memory.roots == sql->roots);
        }
      }
    }
  }
  CHECK(compared_edges > 1000);  // the walks found something to compare

  // The cache hands out an index only once it reflects the database's generation.
  LineageIndexCache cache(dir / "registry.db");
  int64_t generation = registry->LineageGeneration().value();
  std::shared_ptr<const LineageIndex> current;
  for (int i = 0; i < 500 && current == nullptr; ++i) {
    current = cache.Current(generation);
    if (current == nullptr) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE(current != nullptr);
  REQUIRE(
      registry->AddLineageEdges({LineageEdge{"org/new", "org/m1", "adapter", "card", false}}).ok());
  CHECK(registry->LineageGeneration().value() > generation);
  CHECK(cache.Current(registry->LineageGeneration().value()) == nullptr);
}

}  // namespace
}  // namespace hubmirror::registry
