#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/git_refs.h"
#include "common/names.h"
#include "common/status.h"
#include "registry/access.h"
#include "registry/answer_cache.h"
#include "registry/change_counter.h"
#include "registry/records.h"

namespace hubmirror::registry {

// The registry: every row about repos, commits, refs, entries, blobs, lineage, identities,
// access and the audit log, in one SQLite database (WAL mode). All SQL of the project lives
// behind this class. One instance wraps one connection and is not thread-safe; give each thread
// its own (SQLite serialises writers).
// Every method reports a failure of SQLite itself as kInternal; the codes listed are the others.
class Registry {
 public:
  enum class Mode { kReadWrite, kReadOnly };

  // ---- Opening, schema and transactions ----

  // Opens (creating if needed) the database and applies pending migrations, each in one
  // transaction. kFailedPrecondition when the database is newer than this binary; kIoError when
  // it cannot be opened. kReadOnly connections refuse writes and do not migrate.
  static Result<std::unique_ptr<Registry>> Open(const std::filesystem::path& db_path, Mode mode);
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // The schema's version (PRAGMA user_version), or -1 when it cannot be read.
  int SchemaVersion();

  // Starts / ends a read transaction: every read in between sees the same committed state, and
  // the database locks are taken once instead of once per query. Writes that open their own
  // transaction fail inside one.
  Status BeginRead();
  void EndRead();
  bool InTransaction() const;

  // ---- Repos, refs, commits and entries ----

  // kRepoNotFound when no repo of that type has this id (matched case-insensitively).
  Result<Repo> FindRepo(RepoType type, std::string_view name);
  // The tags of the default branch head, in the order they were derived.
  Result<std::vector<std::string>> RepoTags(const Repo& repo);
  // A ref as a revision names it (a branch, which wins over a tag of the same name, a tag,
  // "refs/pr/N", "refs/convert/NAME", or a full name "refs/heads/B", "refs/tags/T"), a full
  // 40-hex commit id of this repo, or "HEAD" (the default branch). kRevisionNotFound otherwise.
  Result<Commit> ResolveRevision(const Repo& repo, std::string_view revision);
  // As ResolveRevision, and also a commit of this repo named by the first 7 to 39 hex digits of
  // its id, as git lets one name it where a revision is written down (a new tag or branch).
  // kInvalidArgument when several commits share that prefix.
  Result<Commit> ResolveRevisionOrPrefix(const Repo& repo, std::string_view revision);
  // Repo, revision and file in one statement: the hot path of every download. On a miss it
  // reports precisely what is missing: kRepoNotFound, kRevisionNotFound, or an empty entry
  // (with the resolved commit) when the path does not exist at that revision.
  struct ResolvedFile {
    std::string commit_id;
    std::optional<Entry> entry;
    // The repo's id, type, name, author and the access flags in force (is_private, gated), for
    // the access checks of a download; its other fields are not filled.
    Repo repo;
  };
  // A read-only connection remembers its answers for as long as no process commits to the
  // database (its ChangeCounter says so), and at most a second: downloads of the same files do
  // not query SQLite again, yet a commit is seen by the next request.
  Result<ResolvedFile> ResolveFile(RepoType type, std::string_view repo, std::string_view revision,
                                   std::string_view path);
  // Entries of a commit under `directory` ("" for the whole tree), sorted by path; empty when
  // the commit or the directory does not exist.
  Result<std::vector<Entry>> ListEntries(const Repo& repo, const std::string& commit_id,
                                         std::string_view directory);
  // The entry at exactly `path`, or std::nullopt.
  Result<std::optional<Entry>> FindEntry(const Repo& repo, const std::string& commit_id,
                                         std::string_view path);
  // Every ref: branches, tags, pull requests, conversions, each by name.
  Result<std::vector<Ref>> ListRefs(const Repo& repo);
  // Ancestry of `head` (newest first) from `offset`, at most `limit`; `total` gets the full count.
  Result<std::vector<Commit>> ListHistory(const Repo& repo, const std::string& head, int64_t offset,
                                          int64_t limit, int64_t* total);
  // The repos matching `query`, sorted and paged as it asks. kInvalidArgument for an unknown
  // sort key.
  Result<std::vector<Repo>> ListRepos(const RepoQuery& query);

  // ---- Publishing revisions ----

  // Publishes a revision atomically (see NewRevision). Creates the repo when new. Returns false
  // when the branch already pointed at that commit (nothing changed but the blob rows: content
  // stored again, after a repair, is marked ok).
  Result<bool> PublishRevision(const NewRevision& revision);
  // Publishes several revisions in one transaction, in order (a bundle's history, oldest first):
  // all of them or none. Returns how many changed anything.
  Result<size_t> PublishRevisions(const std::vector<NewRevision>& revisions);

  // ---- Files and blobs ----

  // The blob row of this SHA-256, if the registry knows it in state ok.
  Result<std::optional<BlobRow>> FindBlob(const std::string& sha256);
  // The rows in state ok among these digests, by digest (unknown ones are absent), in one
  // query whatever their number.
  Result<std::map<std::string, BlobRow>> FindBlobs(const std::vector<std::string>& sha256s);
  // The SHA-256 of stored content (state ok) whose git blob id (of the content itself) and size
  // are these.
  Result<std::optional<std::string>> FindBlobByGitSha1(const std::string& git_sha1, uint64_t size);
  // FindBlobByGitSha1 for many (git blob SHA-1, size) pairs in one query: the SHA-256 of each
  // pair that has one, by pair.
  Result<std::map<std::pair<std::string, uint64_t>, std::string>> FindBlobsByGitSha1(
      const std::vector<std::pair<std::string, uint64_t>>& git_sha1_and_size);
  // Every blob ever stored (not kAbsent ones), or (with `type`) those that any commit of one repo
  // uses, by digest.
  Result<std::vector<BlobRecord>> ListBlobs(std::optional<RepoType> type, std::string_view repo);
  // File rows that disagree with the blobs table (no blob row, or another size), all of them or
  // one repo's, with what is wrong. Files whose content was never stored (kAbsent) are not.
  Result<std::vector<std::pair<BlobUse, std::string>>> InconsistentFiles(
      std::optional<RepoType> type, std::string_view repo);
  // The files that use a blob, at most `limit` of them, for messages.
  Result<std::vector<BlobUse>> BlobUses(std::string_view sha256, size_t limit);
  // ---- Storage budget ----

  // Pins a repo (its content is never evicted) or unpins it. kRepoNotFound.
  Status SetPinned(RepoType type, std::string_view repo, bool pinned);
  Result<bool> Pinned(RepoType type, std::string_view repo);
  // Records when clients last asked pull-through for repos' files (later times win). One
  // transaction; unknown repos are skipped.
  Status RecordRepoUses(const std::vector<RepoUse>& uses);
  // The repos whose content the budget may evict, least recently used first: those only
  // pull-through put here, unpinned. (Mirror rules', synced, imported and pinned repos are kept.)
  Result<std::vector<RepoUse>> EvictionOrder();
  // The stored blobs a repo's files use that no kept repo's file uses: what evicting it frees.
  Result<std::vector<BlobRow>> EvictableBlobs(RepoType type, std::string_view repo);
  // Bytes of stored blobs that kept repos use: what the budget can never free.
  Result<uint64_t> KeptBytes();
  // Marks evicted content absent again (pull-through fetches it anew when asked for).
  Status MarkEvicted(const std::vector<std::string>& sha256s);

  // ---- Retention ----

  // Sets what a repo's retention keeps (nothing set: every revision). kRepoNotFound.
  Status SetRetention(RepoType type, std::string_view repo, const Retention& retention);
  Result<Retention> GetRetention(RepoType type, std::string_view repo);
  // Releases (deletes, with their entries) the commits of a repo that `retention` no longer keeps.
  // Kept: with `revisions` N, each branch's newest N commits along first parents and the repo's N
  // recorded last (mirrored commits have no parent links); with `within_seconds`, commits dated
  // less than that long ago (the upstream's date, else when recorded here); with both, what either
  // keeps. Commits any ref points at, and commits a sync pinned by id, are always kept. Released
  // commits are no longer readable by id; their content is garbage unless another commit uses
  // it. Returns how many were released; kInvalidArgument when nothing is set, or for 0 of either.
  // One transaction.
  Result<size_t> ReleaseRevisions(RepoType type, std::string_view repo, const Retention& retention);

  // How many blobs are stored intact, and their bytes (for metrics).
  struct BlobTotals {
    uint64_t blobs = 0;
    uint64_t bytes = 0;
  };
  Result<BlobTotals> StoredBlobTotals();
  // Blobs by state as last checked (every state, zero where none), for the integrity page.
  Result<std::map<BlobState, BlobTotals>> BlobTotalsByState();
  // Blobs found corrupt or missing, at most `limit`, by digest.
  Result<std::vector<BlobRecord>> DamagedBlobs(size_t limit);
  // Calls `use` once for every (repo, stored intact blob) pair where a file of a commit of the repo
  // uses the blob, by repo. `use` must not use this registry.
  Status ForEachRepoBlob(const std::function<void(RepoType type, const std::string& repo,
                                                  const std::string& sha256, uint64_t size)>& use);
  // Forgets the rows of blobs that garbage collection removed from the store, in one
  // transaction; a row that a file names stays (its content is then missing, as verify reports).
  Status ForgetBlobs(const std::vector<std::string>& sha256s);
  // Records content a fill stored and verified, in one transaction: its blob row becomes kOk
  // (created when absent), and the filled file's entry takes its SHA-256 if it had none.
  Status RecordFilledContent(const FilledContent& filled);
  // Sets blobs' states (by SHA-256) in one transaction; digests without a row are skipped.
  Status SetBlobStates(const std::vector<std::pair<std::string, BlobState>>& states);
  // Calls `digest` once for every distinct SHA-256 that a file entry of any stored commit
  // references (what garbage collection must keep), as the rows are read, whatever their state.
  // `digest` must not use this registry.
  Status ForEachLiveDigest(const std::function<void(const std::string& sha256)>& digest);

  // ---- Lineage ----

  // The edges whose child is `child` (case-insensitive), by parent.
  Result<std::vector<LineageEdge>> ParentEdges(std::string_view child);
  // The lineage around `model`: its ancestors (up, to the roots: a DAG when merges have several
  // parents), its descendants (down), or both, at most `max_depth` edges away (0: no limit), and
  // when `relation` is not empty only through edges of that relation. Ids match
  // case-insensitively; cycles and self-references in real metadata terminate. A model that no
  // edge names is a graph of one node.
  Result<LineageGraph> Lineage(std::string_view model, LineageDirection direction, int max_depth,
                               std::string_view relation);
  // The family of `model` (its descendants, however deep), counted.
  Result<FamilyStats> Family(std::string_view model);
  // Every lineage edge, and every model whose details are known (those recorded along lineage,
  // then the mirrored ones, which take precedence), for in-memory indexes.
  Status ForEachLineageEdge(const std::function<void(const LineageEdge&)>& edge);
  Status ForEachModelDetails(const std::function<void(const LineageNode&)>& model);
  // Lineage walks use the cache's in-memory index whenever it is up to date (same answers).
  void UseLineageIndex(std::shared_ptr<class LineageIndexCache> cache);
  // Records lineage edges known without their repos (a child's card read upstream), in one
  // transaction; an edge already known is updated.
  Status AddLineageEdges(const std::vector<LineageEdge>& edges);
  // Records the details of models seen upstream along lineage, in one transaction; a mirrored
  // model's download count is updated too.
  Status RecordModelDetails(const std::vector<ModelDetails>& models);
  // A number that changes whenever lineage answers may change (edges, or model details).
  Result<int64_t> LineageGeneration();
  // Number of direct children per relation.
  Result<std::map<std::string, int64_t>> ChildCountsByRelation(std::string_view parent);

  // ---- Identities and access (see registry/access.h) ----
  // Users and organizations share one set of names: each is a namespace that repos belong to.
  // Names are valid repo name parts (ValidateRepoId of the name alone) and match
  // case-insensitively. kInvalidArgument for an invalid name, kAlreadyExists for a taken one.

  Status AddUser(const std::string& name, bool is_admin, bool is_robot);
  // Removes a user with their tokens, memberships and access requests. kNotFound when absent.
  Status RemoveUser(std::string_view name);
  Result<std::vector<User>> ListUsers();         // by name
  Result<User> FindUser(std::string_view name);  // kNotFound when absent
  Status AddOrg(const std::string& name);
  // Adds `user` to `org` with `role`, or changes the role of a member. kNotFound for an unknown
  // organization or user.
  Status SetOrgMember(std::string_view org, std::string_view user, OrgRole role);
  Status RemoveOrgMember(std::string_view org, std::string_view user);  // kNotFound when absent
  Result<std::vector<Org>> ListOrgs();                                  // by name, members too

  // Stores a token of `user`, known only by the SHA-256 (hex) of its secret. `expires_at_ms` 0:
  // never. kNotFound for an unknown user, kAlreadyExists when the user has a token of that name
  // (revoked ones included: names are not reused), kInvalidArgument for a name that is empty,
  // longer than 100 bytes or has control characters, or a hash that is not lowercase hex.
  Status AddToken(std::string_view user, const std::string& name, const std::string& secret_sha256,
                  TokenScope scope, int64_t expires_at_ms);
  // Tokens of one user ("" for every user), by user then name. Never secrets. kNotFound for an
  // unknown user.
  Result<std::vector<TokenInfo>> ListTokens(std::string_view user);
  // Marks a token revoked (it stays listed). kNotFound when the user has no such token.
  Status RevokeToken(std::string_view user, std::string_view name);
  // A number that moves whenever any process commits to the database, or 0 when this
  // connection cannot tell (read-write connections): an answer read at one count may be kept,
  // for at most a second, while the count stays.
  uint64_t ChangeCount() const;
  // Who the token with this secret hash identifies, when it is neither revoked nor expired at
  // `now_ms`; nullopt otherwise. Read-only connections remember answers while no process commits
  // to the database (ChangeCounter), so a revocation counts from the next request.
  Result<std::optional<Principal>> FindPrincipal(const std::string& secret_sha256, int64_t now_ms);

  // The operator's visibility and gating settings of a repo (unset: the upstream's flags apply).
  // FindRepo and listings report the flags in force: the setting where there is one. Syncs
  // (UpdateRepoDetails) change the upstream's flags only. kRepoNotFound.
  Result<RepoAccessSettings> AccessSettings(RepoType type, std::string_view repo);
  // Sets the given fields of the settings (an unset field keeps its value). kRepoNotFound,
  // kInvalidArgument for a gated value other than "false", "auto", "manual".
  Status SetAccessSettings(RepoType type, std::string_view repo,
                           const RepoAccessSettings& settings);

  // Records that `user` asks for access to a repo, accepting `terms`: pending, or accepted at
  // once when `accept` (a repo gated "auto"). Asking again after a decision changes nothing and
  // returns the request as it stands; asking again while pending accepts it when `accept`.
  // kRepoNotFound, kNotFound for an unknown user.
  Result<AccessRequest> RequestAccess(RepoType type, std::string_view repo, std::string_view user,
                                      const std::string& terms, bool accept);
  // Accepts or rejects a user's access (creating the request when there is none: a grant), by
  // `decided_by`, with a reason for a rejection. kRepoNotFound, kNotFound for an unknown user,
  // kInvalidArgument for kPending.
  Status DecideAccess(RepoType type, std::string_view repo, std::string_view user,
                      AccessStatus status, const std::string& decided_by,
                      const std::string& reason);
  // Forgets a user's request or grant. kRepoNotFound, kNotFound when there is none.
  Status RemoveAccess(RepoType type, std::string_view repo, std::string_view user);
  // The requests of a repo, all or those of one status, by request time. kRepoNotFound.
  Result<std::vector<AccessRequest>> ListAccessRequests(RepoType type, std::string_view repo,
                                                        std::optional<AccessStatus> status);
  // Whether the user's access to the repo was accepted. Cached on read-only connections as
  // FindPrincipal is.
  Result<bool> HasAccess(const Repo& repo, int64_t user_id);
  // Ids (lower-cased) of the models private here, for leaving them out of lineage answers.
  Result<std::vector<std::string>> PrivateModelIds();

  // Appends an event to the audit log (its id and, when 0, its time are assigned).
  Status RecordAudit(const AuditEvent& event);
  // Events at or after `since_ms`, oldest first, at most `limit`.
  Result<std::vector<AuditEvent>> ListAudit(int64_t since_ms, size_t limit);
  // The latest `limit` events, newest first.
  Result<std::vector<AuditEvent>> LatestAudit(size_t limit);

  // ---- Sync state ----

  // Records a sync attempt. With an empty `last_error` it was a success: every field is stored.
  // Otherwise only the check time, the error and a known upstream commit change; the last
  // success and the local commit stay what they were.
  Status RecordSync(const SyncState& state);
  // Every recorded (repo, revision), by type, repo (case-insensitive) and revision.
  Result<std::vector<SyncState>> ListSyncStates();
  // Whether sync or pull-through ever recorded any revision of the repo (an imported or bundled
  // repo has no record).
  Result<bool> HasSyncState(RepoType type, std::string_view repo);
  // Whether a mirrored repo's rule lets clients write branches and tags of their own (see
  // migration 0010); false for a repo that does not exist.
  Result<bool> AllowsLocalWrites(RepoType type, std::string_view repo);
  Status SetLocalWrites(RepoType type, std::string_view repo, bool allowed);
  // The record of one (repo, revision); nullopt when there is none.
  Result<std::optional<SyncState>> FindSyncState(RepoType type, std::string_view repo,
                                                 std::string_view revision);
  // Applies what one sync of a repo found in one transaction, all of it or none: the revision
  // as PublishRevision does (when there is one), the model details as RecordModelDetails does
  // and the state as RecordSync does. Returns what PublishRevision returns (false without a
  // revision). The repo details, when given, are applied as UpdateRepoDetails does.
  Result<bool> RecordSyncOutcome(const SyncOutcome& outcome);
  // Sets a repo's flags and details to the upstream's, and refreshes the card, tags, pipeline,
  // library, config and safetensors of the commit they describe (and the repo's, when that
  // commit is the default branch head). Does nothing when the repo does not exist.
  Status UpdateRepoDetails(RepoType type, std::string_view repo, const RepoDetails& details);
  // Deletes refs of a repo (their commits stay, readable by id) and what sync recorded of them
  // (by the revision or the full name), in one transaction; refs that do not exist are skipped.
  // Returns how many refs were deleted.
  Result<size_t> DeleteRefs(RepoType type, std::string_view repo, const std::vector<RefName>& refs);
  // Points a new ref at a commit of the repo. kAlreadyExists when the ref exists (whatever it
  // points at), kRevisionNotFound when the repo has no such commit, kRepoNotFound.
  Status CreateRef(RepoType type, std::string_view repo, const RefName& ref,
                   const std::string& commit_id);
  // Bytes of the distinct content the repos of a namespace (user or organization, any case) use
  // in any of their commits: what a publishing quota counts. With `with_repo_id`, as if that repo
  // were in the namespace too (a repo moved there).
  Result<uint64_t> NamespaceBytes(std::string_view space, int64_t with_repo_id = 0);
  // Which of `sha256s` some commit of the namespace's repos uses already, in the same order.
  Result<std::vector<bool>> NamespaceUses(std::string_view space,
                                          const std::vector<std::string>& sha256s);
  // Deletes a repo with its commits, refs, files, access records, sync records and the lineage its
  // cards declared; its content becomes garbage unless another repo uses it. kRepoNotFound.
  Status DeleteRepo(RepoType type, std::string_view repo);
  // Renames a repo (into another namespace too), with its commits, refs, files and access
  // records, and the lineage its cards declared; cards of other repos that name the old id keep
  // naming it. kRepoNotFound, kAlreadyExists when `to` is taken (in any case).
  Status MoveRepo(RepoType type, std::string_view from, std::string_view to);

 private:
  explicit Registry(sqlite3* db);
  Status Migrate();
  Status ApplyMigrations(int current);
  // The bodies of the writes above, run inside a transaction the caller holds.
  Result<bool> PublishInTransaction(const NewRevision& revision);
  Status UpdateDetailsInTransaction(RepoType type, std::string_view repo,
                                    const RepoDetails& details);
  // Makes `commit` the repo's card: what listings filter on and what lineage records.
  Status WriteRepoCard(int64_t repo_id, const Commit& commit);
  // Creates tags at `commit_id`; existing ones stay (PublishInTransaction checked them).
  Status WriteTags(int64_t repo_id, const std::vector<std::string>& tags,
                   const std::string& commit_id);
  Status UpsertLineageEdges(const std::vector<LineageEdge>& edges);
  Status WriteModelDetails(const std::vector<ModelDetails>& models);
  Result<std::vector<Entry>> ReadEntries(class Statement& statement);
  Result<ResolvedFile> ResolveFileInDatabase(RepoType type, std::string_view repo,
                                             std::string_view revision, std::string_view path);
  // The id of a user (case-insensitive name); kNotFound when absent.
  Result<int64_t> UserId(std::string_view name);
  Result<std::optional<Principal>> FindPrincipalInDatabase(const std::string& secret_sha256);
  // Runs `write` with the ids of a repo and a user (kRepoNotFound, kNotFound when either is
  // absent) in one write transaction, committed when `write` succeeds.
  Status WriteAccess(RepoType type, std::string_view repo, std::string_view user,
                     const std::function<Status(int64_t repo_id, int64_t user_id)>& write);
  sqlite3* db_;
  std::unique_ptr<class StatementCache> statements_;
  std::shared_ptr<class LineageIndexCache> lineage_index_;
  // Bumped by every writer's commits; read by this connection's caches.
  std::unique_ptr<ChangeCounter> changes_;
  // Answers of read-only connections: ResolveFile's by type, repo, revision and path;
  // FindPrincipal's by secret hash (with the token's expiry and revocation, judged at each call);
  // HasAccess's by repo and user id.
  AnswerCache<ResolvedFile> resolved_{4096};
  AnswerCache<std::optional<Principal>, SecretEqual> principals_{1024};
  AnswerCache<bool> access_{4096};
};

// Holds a registry read transaction for a scope (see Registry::BeginRead); inside a transaction
// already open it does nothing, so functions can take one whoever calls them. Used on the thread
// that owns the registry connection.
class ReadSnapshot {
 public:
  explicit ReadSnapshot(Registry& registry)
      : registry_(registry),
        owned_(!registry.InTransaction()),
        status_(owned_ ? registry.BeginRead() : Status::Ok()) {}
  ~ReadSnapshot() {
    if (owned_ && status_.ok()) registry_.EndRead();
  }
  ReadSnapshot(const ReadSnapshot&) = delete;
  ReadSnapshot& operator=(const ReadSnapshot&) = delete;
  const Status& status() const { return status_; }

 private:
  Registry& registry_;
  bool owned_;
  Status status_;
};

}  // namespace hubmirror::registry
