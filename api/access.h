#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "api/address_limiter.h"
#include "api/handler_support.h"
#include "api/registry_writer.h"
#include "registry/registry.h"

namespace hubmirror::api {

// The server-wide access policy, from the config's [access] table.
struct AccessPolicy {
  // Whether requests without a token may read public repos ([access] anonymous = "read"); with
  // "none" every request needs a valid token.
  bool anonymous_read = true;
};

// What the access checks of every request share, owned by the server: the policy, the writer
// connection, and the per-address limits. Thread-safe.
class AccessServices {
 public:
  // A client that sent this many bad tokens in a minute gets 429 until the minute ends.
  static constexpr int64_t kBadTokensPerMinute = 20;
  // Refused requests of one address recorded per minute (in the audit log and the server log);
  // the others are not, so that a flood of them cannot fill the disk.
  static constexpr int64_t kRefusalsRecordedPerMinute = 30;

  // `writer` may be null: writes then answer 503, and audit events only go to the log.
  AccessServices(AccessPolicy policy, std::unique_ptr<RegistryWriter> writer)
      : anonymous_read_(policy.anonymous_read), writer_(std::move(writer)) {}

  AccessPolicy policy() const { return {anonymous_read_.load()}; }
  // A reloaded config's policy, for the requests that follow.
  void SetPolicy(AccessPolicy policy) { anonymous_read_ = policy.anonymous_read; }
  RegistryWriter* writer() { return writer_.get(); }
  AddressLimiter& bad_tokens() { return bad_tokens_; }

  // Records a security-relevant event: in the registry's audit log and as one JSON line in the
  // server log. A failure to record is logged, never turned into a failed request.
  void Audit(registry::AuditEvent event);
  // Records a refused request, at most kRefusalsRecordedPerMinute per address.
  void AuditRefusal(registry::AuditEvent event);

 private:
  std::atomic<bool> anonymous_read_;  // AccessPolicy's field, which a reload may change
  std::unique_ptr<RegistryWriter> writer_;
  AddressLimiter bad_tokens_{kBadTokensPerMinute, std::chrono::seconds(60)};
  AddressLimiter refusals_{kRefusalsRecordedPerMinute, std::chrono::seconds(60)};
};

// Runs a write on the server's writer connection, holding it; kIoError when the server has none.
template <typename Change>
Status Write(const RequestContext& context, Change&& change) {
  RegistryWriter* writer = context.access.writer();
  if (writer == nullptr) return Status(StatusCode::kIoError, "this server cannot write");
  return writer->With(std::forward<Change>(change));
}

// The JSON object a write sends; kInvalidArgument for anything else.
Result<nlohmann::json> JsonObjectBody(const RequestContext& context);

// An audit event of the request's caller, from their address.
registry::AuditEvent CallerEvent(const RequestContext& context, std::string action,
                                 std::string target, std::string outcome,
                                 nlohmann::json detail = nlohmann::json());

// Who made a request, as the access checks see it: anonymous, or the user of a valid token.
// Value type, one per request.
struct Caller {
  std::shared_ptr<const registry::Principal> principal;  // null: anonymous
  std::string address;  // the client's address, for the audit log and rate limits
  // A page request came with a session cookie whose token is no longer valid (revoked, expired):
  // the caller is anonymous, and the page says why.
  bool session_expired = false;

  bool anonymous() const { return principal == nullptr; }
  const std::string& name() const;  // the user's name, or "anonymous"
  registry::Viewer viewer() const;
  bool is_admin() const { return principal && principal->user.is_admin; }
  // The caller's role in the organization `org` (case-insensitive), if a member.
  std::optional<registry::OrgRole> RoleIn(const std::string& org) const;
};

// What a caller may do with one repo, from least to most.
enum class RepoRight {
  kNone,      // a private repo the caller may not read: it does not exist for them
  kMetadata,  // a gated repo without access: info, tree, refs and commits, not file content
  kContent,   // everything a reader may do
};

// The cookie that keeps a browser signed in to the web UI: the access token itself, HttpOnly and
// SameSite=Strict, so that no script reads it and no other site's request carries it.
inline constexpr std::string_view kSessionCookie = "hubmirror_token";
// The token in a request's session cookie, if it has one.
std::optional<std::string> SessionCookieToken(const Request& request);

// Reads the token of a request: `Authorization: Bearer TOKEN`, or Basic with the token as the
// password (git's way); without that header and when `session_cookie` is set, the session cookie
// (pages, and the downloads and manifests they link to). Returns the caller, anonymous without a
// token; kInvalidArgument with the Hub's message when a header's token is malformed, unknown,
// revoked or expired (a 401 that names no token), while a cookie's such token gives an anonymous
// caller marked `session_expired`. Never logs or echoes the token. Each thread remembers the last
// token it checked (in memory, as the request held it) while the registry does not change, for
// at most a second: a client's keep-alive requests do not hash and look it up again.
Result<Caller> Authenticate(const Request& request, registry::Registry& registry,
                            std::string address, bool session_cookie = false);

// The caller's right to a repo: admins, the namespace's own user and the members of its
// organization read everything of it; users whose access was accepted read a gated or private
// repo; others see a gated repo's metadata only, and nothing of a private one.
Result<RepoRight> ReadRight(const Caller& caller, registry::Registry& registry,
                            const registry::Repo& repo);
// Whether the caller may manage a repo (its settings, the access to it): an admin, the
// namespace's own user, or a member of its organization with write or admin. Changes also need a
// write token.
bool MayManage(const Caller& caller, const registry::Repo& repo);
// Whether the caller may create and change repos in a namespace: an admin, the user of that name,
// or a member of that organization with write or admin.
bool MayWriteNamespace(const Caller& caller, std::string_view space);

// The repo a request names, when the caller may see it, with the caller's right to it (at least
// kMetadata): kRepoNotFound otherwise, a private repo hidden from the caller answering exactly as
// a missing one (hub-protocol.md §4, mirror rule 2).
Result<registry::Repo> FindVisibleRepo(const RequestContext& context, RepoType type,
                                       std::string_view name, RepoRight* right);

// Whether a repo exists here but is hidden from the caller (private, without access): what it
// names is left out of listings, lineage answers and the mirror's status.
Result<bool> HiddenFrom(const RequestContext& context, RepoType type, std::string_view name);

// The terms a user accepts by asking for access to a gated repo: the card's gate prompt, as the
// Hub shows it on the form.
std::string AccessTerms(const registry::Repo& repo);
// Records the caller's request for access to a gated repo (granted at once when it is gated
// "auto"), and audits it with the form's fields (`form`, bounded). kInvalidArgument for a repo
// that is not gated; kIoError when the server cannot write.
Result<registry::AccessRequest> AskForAccess(const RequestContext& context,
                                             const registry::Repo& repo, std::string_view form);

// Pull-through's report (PullThrough::Report) without the fills and bytes of repos hidden from
// the caller. Needs context.pull_through.
nlohmann::json PullThroughReport(const RequestContext& context);

// Leaves out of a lineage graph the mirrored models hidden from the caller, with their edges.
Status HideLineageFromCaller(const RequestContext& context, registry::LineageGraph* graph);

// The refusals the Hub sends (hub-protocol.md §4): the repo does not exist (404 RepoNotFound,
// also for private repos hidden from the caller), or its content is gated (401 GatedRepo without
// a token, 403 with one that has no access).
Response RepoNotFoundResponse(const std::string& repo, bool json_body);
Response GatedResponse(const Caller& caller, const registry::Repo& repo, const std::string& origin,
                       bool json_body);

}  // namespace hubmirror::api
