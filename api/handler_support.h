#pragma once

#include <boost/beast/http.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/errors.h"
#include "api/job_control.h"
#include "api/publisher.h"
#include "api/pull_through.h"
#include "api/router.h"
#include "api/verified_blobs.h"
#include "common/signing.h"
#include "registry/registry.h"
#include "storage/blob_store.h"

namespace hubmirror::api {

namespace http = boost::beast::http;
using Request = http::request<http::string_body>;

// What a handler answers. The body is either `body` (in memory) or a slice of `file`, which the
// server sends with sendfile. Headers common to every response (CORS, Server) are added by the
// server. Value type, owned by one session.
struct Response {
  Response() { headers.reserve(kTypicalHeaders); }

  http::status status = http::status::ok;
  // Names are literals (static storage): a small download sets ten headers, and each name
  // copied would be one more allocation.
  std::vector<std::pair<std::string_view, std::string>> headers;
  std::string body;
  std::optional<storage::BlobFile> file;
  uint64_t file_offset = 0;
  uint64_t file_length = 0;
  // When set, the whole file is sent and must hash to this SHA-256: the server checks while
  // sending and never lets a mismatching body arrive complete.
  std::string verify_sha256;
  std::string verify_what;  // names the file in the log when the check fails
  // Pull-through: the body is bytes [file_offset, file_offset + file_length) of a fetch in
  // progress, sent as they arrive (a whole file's last byte only once it proved right).
  std::shared_ptr<ContentStream> stream;
  // A HEAD of content not stored: the headers announce file_length bytes; there is no body.
  bool length_only = false;
  // The endpoint the request matched (none when it matched none), for metrics.
  std::optional<Endpoint> endpoint;
  // An LFS upload accepted on its headers: the server streams the request's body into it, then
  // answers 200, or the sink's failure.
  std::shared_ptr<UploadSink> upload;
  // Pull-through: the upstream must be asked about this revision before the request can be
  // answered. The server asks off its I/O threads, then dispatches the request again.
  std::optional<RevisionToFetch> fetch_first;

  void Set(std::string_view name, std::string value) {
    headers.emplace_back(name, std::move(value));
  }

 private:
  static constexpr size_t kTypicalHeaders = 12;
};

class AccessServices;
struct Caller;

// Everything a handler may use for one request. Lives on the session's stack.
struct RequestContext {
  const Request& request;
  const Route& route;
  registry::Registry& registry;
  storage::BlobStore& store;
  uint64_t verify_below_bytes;    // whole files smaller than this are verified as they are sent
  const SigningKey& signing_key;  // signs integrity manifests
  std::string origin;  // "http://host:port" as the client addressed us, for absolute Links
  VerifiedBlobCache* verified_blobs;  // this thread's small blobs; nullptr: none kept
  const Caller& caller;
  AccessServices& access;
  // The server's pull-through, if any; `may_fetch` when it may fetch what this request names
  // (content not stored is then filled).
  PullThrough* pull_through = nullptr;
  bool may_fetch = false;
  JobControl* jobs = nullptr;       // the daemon's jobs and config, if any
  Publisher* publisher = nullptr;   // publishing, if this server takes writes
  class WebPages* pages = nullptr;  // the web UI, if this server shows it
};

// Moves a blob whose bytes did not hash to `sha256` as they were served to quarantine, and logs
// it with the file it was served as (`what`) and both digests.
void QuarantineServedBlob(storage::BlobStore& store, const std::string& sha256,
                          const std::string& what, const std::string& actual);

// An error response: X-Error-Code and X-Error-Message headers, and a JSON {"error"} body for
// /api routes or a text/plain body for file routes.
Response ErrorResponse(ApiError error, const std::string& message, bool json_body);
Response ErrorFromStatus(const Status& status, bool json_body);
// What the upstream failing (kIoError) means to a client of pull-through: 503
// UpstreamRateLimited with Retry-After while the upstream asked the mirror to wait, else 504
// UpstreamUnavailable; both with `failure`'s message, which names the upstream.
Response UpstreamErrorResponse(const Status& failure, const PullThrough& pull, bool json_body);
Response JsonResponse(const nlohmann::json& body);

// The `Link` header value `<origin + path-of-request + ?query>; rel="next"`, with the named
// parameters replaced by new values (the other parameters kept as sent).
std::string NextPageLink(const RequestContext& context,
                         const std::vector<std::pair<std::string, std::string>>& replaced);

// Tree and paths-info entry in the Hub's shape; `expand` adds lastCommit. Never emits xetHash.
nlohmann::json EntryJson(const registry::Entry& entry, bool expand);

// Parses a non-negative decimal integer parameter; nullopt when absent, kInvalidArgument when
// malformed.
Result<std::optional<int64_t>> IntegerParam(const QueryParams& query, std::string_view key);

// The repo a manager's request names, or nullopt with the refusal in `refusal`, in the Hub's
// order: no token (401), a repo the caller cannot see (404), no right to manage it (403), a
// read-only token for a write (403). `write` says whether the request changes anything.
std::optional<registry::Repo> ManagedRepo(const RequestContext& context, bool write,
                                          Response* refusal);

Response HandleWhoami(const RequestContext& context);
Response HandleAskAccess(const RequestContext& context);
Response HandleAuthCheck(const RequestContext& context);
Response HandleAccessRequests(const RequestContext& context);
Response HandleAccessDecision(const RequestContext& context);
Response HandleRepoSettings(const RequestContext& context);
// Why the caller may not use an /api/admin/ route, in this order: no token (401), not a server
// admin (403), a read-only token for a change (403), a server that cannot write (503); nullopt
// when they may. The 403s are recorded as refusals.
std::optional<Response> AdminRefusal(const RequestContext& context);
// /api/admin/...: the people, tokens, grants and audit log of the instance, for server admins.
Response HandleAdminUsers(const RequestContext& context);
Response HandleAdminUser(const RequestContext& context);
Response HandleAdminOrgs(const RequestContext& context);
Response HandleAdminOrgMember(const RequestContext& context);
Response HandleAdminTokens(const RequestContext& context);
Response HandleAdminToken(const RequestContext& context);
Response HandleAdminAccess(const RequestContext& context);
Response HandleAdminAudit(const RequestContext& context);
// /api/admin/jobs and /api/admin/config: the daemon's jobs and configuration (job_control.h).
Response HandleAdminJobs(const RequestContext& context);
Response HandleAdminJob(const RequestContext& context);
Response HandleAdminConfig(const RequestContext& context);
Response HandleAdminReload(const RequestContext& context);
// Publishing (publish_handlers.cc): repos, preupload, commits, branches and tags.
Response HandleCreateRepo(const RequestContext& context);
Response HandleDeleteRepo(const RequestContext& context);
Response HandleValidateYaml(const RequestContext& context);
Response HandlePreupload(const RequestContext& context);
Response HandleCommit(const RequestContext& context);
Response HandleBranch(const RequestContext& context);
Response HandleTag(const RequestContext& context);
Response HandleXetWriteToken(const RequestContext& context);
Response HandleMoveRepo(const RequestContext& context);
// Opening a pull request or a discussion: refused clearly (this server keeps neither).
Response HandleDiscussions(const RequestContext& context);
// LFS uploads (lfs_handlers.cc): the batch API, the upload target (a whole object, or a part
// of a multipart upload), the multipart completion and verify.
Response HandleLfsBatch(const RequestContext& context);
// Answers the headers of an upload PUT, before its body is read: a refusal, or a Response whose
// `upload` takes the body.
Response HandleLfsUpload(const RequestContext& context);
Response HandleLfsComplete(const RequestContext& context);
Response HandleLfsVerify(const RequestContext& context);
Response HandleResolve(const RequestContext& context, bool raw);
Response HandleRepoInfo(const RequestContext& context);
Response HandleListRepos(const RequestContext& context);
Response HandleTree(const RequestContext& context);
Response HandlePathsInfo(const RequestContext& context);
Response HandleRefs(const RequestContext& context);
Response HandleCommits(const RequestContext& context);
Response HandleMirrorStatus(const RequestContext& context);
// /readyz: 200 when this thread's registry can be read and the data directory written, else 503.
Response HandleReady(registry::Registry* registry, const std::filesystem::path& data_dir);
Response HandleLineage(const RequestContext& context);
Response HandleIntegrityKey(const RequestContext& context);
Response HandleIntegrityManifest(const RequestContext& context);

}  // namespace hubmirror::api
