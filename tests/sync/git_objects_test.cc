#include "sync/git_objects.h"

#include <catch2/catch.hpp>
#include <cstdio>

#include "common/digest.h"
#include "tests/support/temp_dir.h"

namespace hubmirror::sync {
namespace {

std::string RunCommand(const std::string& command) {
  std::string output;
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[256];
  while (std::fgets(buffer, sizeof buffer, pipe) != nullptr) output += buffer;
  REQUIRE(::pclose(pipe) == 0);
  while (!output.empty() && output.back() == '\n') output.pop_back();
  return output;
}

TEST_CASE("tree and commit ids equal what git computes for the same files", "[git]") {
  testing::TempDir dir;
  // Names chosen to exercise git's ordering rule (a directory sorts as "name/").
  std::vector<std::pair<std::string, std::string>> files = {
      {"a.txt", "one\n"}, {"a/b.txt", "two\n"},        {"a-b", "three"},
      {"a0", ""},         {"dir/sub/deep.json", "{}"}, {"read me.md", "spaces"}};
  std::vector<GitTreeFile> tree_files;
  for (const auto& [path, content] : files) {
    testing::WriteFile(dir / ("repo/" + path), content);
    tree_files.push_back({path, GitObjectId("blob", content)});
  }
  GitTrees trees = BuildGitTrees(tree_files);

  std::string git = "cd '" + (dir / "repo").string() + "' && git -c init.defaultBranch=main ";
  RunCommand(git + "init -q && git add -A");
  CHECK(trees.root_id == RunCommand(git + "write-tree"));
  CHECK(trees.directory_ids.at("dir/sub") ==
        RunCommand(git + "rev-parse $(git write-tree):dir/sub"));
  CHECK(trees.directory_ids.at("a") == RunCommand(git + "rev-parse $(git write-tree):a"));

  std::string commit =
      RunCommand("cd '" + (dir / "repo").string() +
                 "' && GIT_AUTHOR_NAME=hubmirror GIT_AUTHOR_EMAIL=hubmirror@localhost "
                 "GIT_COMMITTER_NAME=hubmirror GIT_COMMITTER_EMAIL=hubmirror@localhost "
                 "GIT_AUTHOR_DATE='1700000000 +0000' GIT_COMMITTER_DATE='1700000000 +0000' "
                 "git commit-tree -m 'Import from local folder' " +
                 trees.root_id);
  CHECK(GitCommitId(trees.root_id, "", "hubmirror <hubmirror@localhost>", 1700000000,
                    "Import from local folder\n") == commit);
}

TEST_CASE("an empty tree has git's well-known id", "[git]") {
  CHECK(BuildGitTrees({}).root_id == "4b825dc642cb6eb9a060e54bf8d69288fbee4904");
}

}  // namespace
}  // namespace hubmirror::sync
