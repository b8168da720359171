// Integration tests of the HTTP API against the real binary: `hubmirror import` fills a data
// directory, a `hubmirror serve` process on 127.0.0.1:0 answers, and each endpoint family
// (api_*_test.cc) checks over loopback the statuses, headers and bodies the Hub clients rely on
// (hub-protocol §1.2-1.6, §2.7, §3, §4). This is what the families share: the imported repos and
// the server answering for them (World), the facts expected of each file, computed here from the
// imported bytes, and the common checks and JSON helpers.
#pragma once

#include <cstddef>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "tests/integration/http_client.h"
#include "tests/integration/server_process.h"
#include "tests/support/temp_dir.h"

namespace hubmirror::testing {

// Repo path -> content.
using Files = std::map<std::string, std::string>;

inline constexpr const char* kModel = "acme/model";
inline constexpr const char* kCommitTitle = "Import from local folder";
// Over 64 KiB so the server sends it with sendfile, odd so range ends are not block-aligned.
inline constexpr size_t kBigLfsSize = 3 * 1024 * 1024 + 7;
inline constexpr size_t kManyFiles = 1100;

inline const std::regex kIsoMillis(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)");
inline const std::regex kHex24("[0-9a-f]{24}");
inline const std::regex kHex40("[0-9a-f]{40}");

bool EndsWith(std::string_view text, std::string_view suffix);
bool StartsWith(std::string_view text, std::string_view prefix);

// What the Hub would say about one file (hub-protocol §6), computed independently of the server.
struct FileFacts {
  std::string path;
  std::string content;
  bool lfs = false;
  std::string sha256;
  std::string pointer;  // the LFS pointer text (LFS files only)
  std::string git_oid;  // blob id of the content, or of the pointer for LFS files
  std::string resolve_etag;
  std::string raw_etag;
  std::string raw_body;
};

FileFacts Facts(const std::string& path, const std::string& content);

// Percent-encodes a repo path the way huggingface_hub's quote() does: '/' kept.
std::string UrlPath(std::string_view path);

// The commit id `hubmirror import` reported, or "".
std::string ParseCommitId(const CommandResult& result);

// Writes `files` under `source`, then imports that folder as `repo` (see ImportFolder).
CommandResult ImportFiles(const std::filesystem::path& data_dir, const std::string& repo,
                          const std::filesystem::path& source, const Files& files,
                          const std::string& type = "");

// The environment variable naming a directory PrepareWorld filled. CTest sets it for the
// endpoint families, so the imports, which fsync every blob and take seconds, are made once per
// run instead of once per family; without it each process makes its own.
inline constexpr const char* kPreparedWorldVariable = "HUBMIRROR_TEST_API_WORLD";

// Makes the World's imports into `dir` (emptied first) and records what each one reported.
void PrepareWorld(const std::filesystem::path& dir);

// The data every test reads: several imports into one data directory, served by one process.
// With kPreparedWorldVariable set that directory is the prepared one, which the families share:
// `serve` only reads its registry and blobs. Built on first use by Shared() and kept for the whole
// run (the server stops at exit). Tests only read it; the client may be used from several
// threads.
struct World {
  TempDir dir;
  std::filesystem::path data = dir / "data";
  Files model_v1;
  Files model_v2;
  Files dataset;
  Files child;
  Files child_gguf;
  CommandResult import_v1, import_v2, reimport_v2, import_dev;
  std::string commit1, commit2, dev_commit, dataset_commit, child_commit, gguf_commit, many_commit;
  std::unique_ptr<ServerProcess> server;
  std::unique_ptr<HttpClient> client;

  // Throws std::runtime_error when an import fails or the server does not start.
  World();

  const HttpClient& http() const { return *client; }
};

World& Shared();

nlohmann::json Json(const HttpResponse& response);
std::set<std::string> KeysOf(const nlohmann::json& object);
// Whether `key` names a member anywhere inside `value`.
bool ContainsKey(const nlohmann::json& value, const std::string& key);
std::vector<std::string> Ids(const nlohmann::json& array);
std::vector<std::string> Paths(const nlohmann::json& array);
// The items of a comma-separated header value, trimmed and lower-cased.
std::set<std::string> CommaList(const std::string& text);
// The `name=value` pairs of a target's query string, as sent.
std::multiset<std::string> QueryPairs(const std::string& target);

// The target of the `rel="next"` Link, checked to be an absolute URL on the server's own origin
// that keeps every original query parameter except the paging ones; nullopt on the last page.
std::optional<std::string> NextTarget(const HttpClient& client, const HttpResponse& response,
                                      const std::string& requested,
                                      const std::set<std::string>& paging_keys);
// Follows Link headers from `target` to the last page; returns every page's JSON array.
std::vector<nlohmann::json> FollowPages(const HttpClient& client, std::string target,
                                        const std::set<std::string>& paging_keys);

void CheckCors(const HttpResponse& response);
void CheckHealthy(const World& world);
void CheckError(const HttpResponse& response, int status, const std::string& code, bool json_body);

}  // namespace hubmirror::testing
