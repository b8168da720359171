#include "common/files.h"

#include <sys/stat.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "tests/support/temp_dir.h"

namespace hubmirror {
namespace {

namespace fs = std::filesystem;
using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;

// The names in `dir`, sorted.
std::vector<std::string> Names(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename());
  std::sort(names.begin(), names.end());
  return names;
}

TEST_CASE("WriteFileAtomically creates a file with the content", "[files]") {
  TempDir dir;
  REQUIRE(WriteFileAtomically(dir / "a.json", "{\"x\": 1}\n").ok());
  CHECK(ReadFile(dir / "a.json") == "{\"x\": 1}\n");
  CHECK(Names(dir.path()) == std::vector<std::string>{"a.json"});
}

TEST_CASE("WriteFileAtomically replaces the content whole", "[files]") {
  TempDir dir;
  WriteFile(dir / "a.json", std::string(10000, 'o'));
  // A reader that opened the old file keeps reading the old bytes: the new content is another
  // file put in its place, not the old one overwritten in place.
  std::ifstream reader(dir / "a.json", std::ios::binary);
  REQUIRE(reader);
  REQUIRE(WriteFileAtomically(dir / "a.json", "new").ok());
  std::string old_content((std::istreambuf_iterator<char>(reader)),
                          std::istreambuf_iterator<char>());
  CHECK(old_content == std::string(10000, 'o'));
  CHECK(ReadFile(dir / "a.json") == "new");
  CHECK(Names(dir.path()) == std::vector<std::string>{"a.json"});
}

TEST_CASE("WriteFileAtomically gives the file the mode asked for", "[files]") {
  TempDir dir;
  AtomicWriteOptions options;
  options.mode = 0600;
  REQUIRE(WriteFileAtomically(dir / "key.pem", "secret", options).ok());
  struct stat info {};
  REQUIRE(::stat((dir / "key.pem").c_str(), &info) == 0);
  CHECK((info.st_mode & 0777) == 0600);
}

TEST_CASE("a failed commit removes the temporary file and leaves the path as it was", "[files]") {
  TempDir dir;
  // A directory that is not empty cannot be replaced by a file.
  WriteFile(dir / "a.json" / "inside", "kept");
  Status status = WriteFileAtomically(dir / "a.json", "new");
  CHECK_FALSE(status.ok());
  CHECK(status.message().find((dir / "a.json").string()) != std::string::npos);
  CHECK(ReadFile(dir / "a.json" / "inside") == "kept");
  CHECK(Names(dir.path()) == std::vector<std::string>{"a.json"});
}

TEST_CASE("without replace, an existing file is kept and the temporary file removed", "[files]") {
  TempDir dir;
  WriteFile(dir / "key.pem", "first");
  AtomicWriteOptions options;
  options.replace = false;
  options.temp_suffix = ".tmp.1234";
  Status status = WriteFileAtomically(dir / "key.pem", "second", options);
  CHECK(status.code() == StatusCode::kAlreadyExists);
  CHECK(ReadFile(dir / "key.pem") == "first");
  CHECK(Names(dir.path()) == std::vector<std::string>{"key.pem"});

  REQUIRE(WriteFileAtomically(dir / "other.pem", "new", options).ok());
  CHECK(ReadFile(dir / "other.pem") == "new");
  CHECK(Names(dir.path()) == std::vector<std::string>{"key.pem", "other.pem"});
}

TEST_CASE("an AtomicFile abandoned before its commit leaves nothing behind", "[files]") {
  TempDir dir;
  WriteFile(dir / "volume.dat", "old");
  AtomicWriteOptions options;
  options.temp_suffix = ".part";
  {
    auto file = AtomicFile::Create(dir / "volume.dat", options);
    REQUIRE(file.ok());
    CHECK(file->temp_path() == dir / "volume.dat.part");
    REQUIRE(file->Write("half of it").ok());
    CHECK(fs::exists(dir / "volume.dat.part"));
  }
  CHECK(ReadFile(dir / "volume.dat") == "old");
  CHECK(Names(dir.path()) == std::vector<std::string>{"volume.dat"});
}

TEST_CASE("AtomicFile errors name the file and keep the errno's code", "[files]") {
  TempDir dir;
  auto missing = AtomicFile::Create(dir / "no-such-dir" / "a.json");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == StatusCode::kNotFound);
  CHECK(missing.status().message().find("cannot create " +
                                        (dir / "no-such-dir" / "a.json.tmp").string()) == 0);
  // The temporary name taken by a directory: the writer cannot clear it away.
  fs::create_directories(dir / "b.json.tmp" / "x");
  auto blocked = AtomicFile::Create(dir / "b.json");
  REQUIRE_FALSE(blocked.ok());
  CHECK(blocked.status().code() == StatusCode::kIoError);
  CHECK(fs::exists(dir / "b.json.tmp" / "x"));

  CHECK(FsyncDirectory(dir / "no-such-dir").code() == StatusCode::kNotFound);
  CHECK(FsyncDirectory(dir.path()).ok());
}

TEST_CASE("a moved AtomicFile commits once, from its new owner", "[files]") {
  TempDir dir;
  auto created = AtomicFile::Create(dir / "a.json");
  REQUIRE(created.ok());
  AtomicFile file = std::move(created.value());
  REQUIRE(file.Write("moved").ok());
  REQUIRE(file.Commit().ok());
  CHECK(file.Commit().code() == StatusCode::kInternal);
  CHECK(ReadFile(dir / "a.json") == "moved");
  CHECK(Names(dir.path()) == std::vector<std::string>{"a.json"});
}

}  // namespace
}  // namespace hubmirror
