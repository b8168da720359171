#pragma once

// The values the registry reads and writes (registry.h): repos, commits, entries, blobs, refs,
// lineage, sync state and what one sync publishes. Plain value types.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/git_refs.h"
#include "common/names.h"

namespace hubmirror::registry {

// A blob's state as last checked: kOk is served; kCorrupt and kMissing (found so by verify, or
// gone from the store) are refused until a sync fetches the content again. kAbsent content was
// never stored: a pull-through revision's files before a client first asks for them (verify
// skips it). Stored as the text of BlobStateName.
enum class BlobState { kOk, kCorrupt, kMissing, kAbsent };
std::string_view BlobStateName(BlobState state);  // "ok", "corrupt", "missing", "absent"
bool ParseBlobState(std::string_view text, BlobState* state);

using hubmirror::RefKind;
using hubmirror::RefName;

struct Repo {
  int64_t id = 0;
  RepoType type = RepoType::kModel;
  std::string name;       // "namespace/name" with its published case
  std::string author;     // the namespace (or the name of a legacy single-segment id)
  std::string object_id;  // 24 hex digits, stable per repo (the Hub's `_id`)
  std::string default_branch = "main";
  int64_t created_at_ms = 0;
  int64_t last_modified_ms = 0;
  // The default branch head's card: README front matter as JSON (empty when none), pipeline,
  // library.
  std::string card_data_json;
  std::string pipeline_tag;
  std::string library_name;
  int64_t downloads = 0;
  int64_t likes = 0;
  bool is_private = false;
  std::string gated = "false";  // "false", "auto" or "manual", as the Hub reports it
  bool disabled = false;
};

struct Commit {
  std::string id;
  std::string parent_id;  // empty for a root commit
  std::string tree_id;
  std::string title;
  std::string message;
  std::string author;
  int64_t date_ms = 0;
  // The model card at this revision (see NewRevision).
  std::string card_data_json;
  std::vector<std::string> tags;
  std::string pipeline_tag;
  std::string library_name;
  // What the Hub computes for the revision, as JSON text (empty when the upstream has none):
  // the trimmed config.json and the safetensors parameter counts.
  std::string config_json;
  std::string safetensors_json;
};

// One entry of a commit's tree. For LFS files `git_oid` is the pointer's blob id and `size` the
// real content size; `sha256` addresses the content in the blob store (empty for directories).
struct Entry {
  std::string path;
  bool is_directory = false;
  uint64_t size = 0;
  std::string git_oid;
  std::string sha256;
  bool lfs = false;
  uint64_t pointer_size = 0;
  std::string last_commit_id;
  // Filled by reads from the last commit's row.
  std::string last_commit_title;
  int64_t last_commit_date_ms = 0;
  // Files: the content's state as last checked (filled by reads; kMissing without a blob row).
  BlobState blob_state = BlobState::kOk;
};

// A blob the registry knows, with its state as last checked.
struct BlobRecord {
  std::string sha256;
  uint64_t size = 0;
  std::string git_sha1;  // empty when not computed (LFS content)
  BlobState state = BlobState::kOk;
  bool git_file = false;  // some non-LFS file has this content: its git blob SHA-1 matters
};

// A file that uses a blob.
struct BlobUse {
  RepoType type = RepoType::kModel;
  std::string repo;
  std::string commit_id;
  std::string path;
};

// A ref of a repo: its kind, its short name ("main", "v1.0", "16", "parquet") and its commit.
struct Ref {
  RefKind kind = RefKind::kBranch;
  std::string name;
  std::string commit_id;

  RefName ref_name() const { return {kind, name}; }
};

struct LineageEdge {
  std::string child;
  std::string parent;
  std::string relation;   // finetune, adapter, quantized, merge, or unknown
  std::string source;     // where the edge was read: "card" (model card front matter), ...
  bool inferred = false;  // true when the relation was derived by heuristics, not declared
};

// A model in a lineage graph; `mirrored` when it is a repo here. `described` when its details
// are known: always for a mirrored model, else when lineage sync recorded what the upstream said.
struct LineageNode {
  std::string id;
  bool mirrored = false;
  std::string pipeline_tag;
  std::string library_name;
  int64_t downloads = 0;
  bool described = false;
};

struct LineageGraph {
  std::vector<LineageNode> nodes;  // the model first, then by id
  std::vector<LineageEdge> edges;  // sorted by child, then parent; ids spelt as their nodes
  // The foundation models the ancestors lead to (the model itself when it has no parent), when
  // the walk went up without a depth limit; empty otherwise.
  std::vector<std::string> roots;
};

enum class LineageDirection { kUp, kDown, kBoth };

// A model's family: the model and its descendants.
struct FamilyStats {
  int64_t models = 0;                        // the model and its descendants
  int64_t mirrored = 0;                      // of those, the ones mirrored here
  std::map<std::string, int64_t> relations;  // the family's edges, by relation
  // Distinct content of the mirrored models' default branches: what the family costs on disk.
  uint64_t bytes_stored = 0;
  // Content of descendants that the base model has too: stored once, thanks to deduplication.
  uint64_t bytes_shared_with_base = 0;
};

// What the upstream says of a model seen along lineage (mirrored or not).
struct ModelDetails {
  std::string id;
  std::string pipeline_tag;
  std::string library_name;
  int64_t downloads = 0;
};

struct BlobRow {
  std::string sha256;
  uint64_t size = 0;
  std::string git_sha1;
  // kOk: stored and verified. kAbsent: declared by the upstream, not stored yet (never lowers the
  // state of a row that exists).
  BlobState state = BlobState::kOk;
};

// Content a pull-through fill has just stored and verified, for the file that asked for it:
// a git-stored file's entry learns its SHA-256 only now.
struct FilledContent {
  RepoType type = RepoType::kModel;
  std::string repo;
  std::string commit_id;
  std::string path;
  BlobRow blob;
};

// Everything one import or sync publishes, applied in one transaction: after it commits, the
// branch points at a commit whose every entry is in place; before, readers see the old state.
// The commit carries its model card; when the branch is the repo's default branch, the card also
// becomes the repo's (tags for listings, lineage edges).
struct NewRevision {
  RepoType type = RepoType::kModel;
  std::string repo_name;
  // The ref moved to the commit, of any kind; none: store the commit without moving any ref.
  std::optional<RefName> ref;
  // Tags created at the commit as well. A tag that already points elsewhere is refused
  // (kAlreadyExists): tags name releases and do not move.
  std::vector<std::string> tags;
  // For a repo this creates: its default branch (empty: the ref when it is a branch, else
  // "main").
  std::string default_branch;
  Commit commit;
  std::vector<Entry> entries;
  std::vector<BlobRow> blobs;
  std::vector<LineageEdge> lineage;
  // When set, the ref must point at this commit now ("": the ref must not exist yet), or nothing
  // is published (kFailedPrecondition): a commit built on a head that moved meanwhile never
  // replaces the other writer's work.
  std::optional<std::string> expected_head;
  // A repo this creates is private from its first moment (the `private` setting), when true.
  bool private_if_created = false;
};

// What retention keeps of a repo's revisions, besides those refs point at and those a sync pinned.
// Nothing set: every revision. Value type.
struct Retention {
  std::optional<size_t> revisions;        // each branch's newest N (N > 0)
  std::optional<int64_t> within_seconds;  // revisions dated less than this long ago (> 0)

  bool Any() const { return revisions || within_seconds; }
};

// When a repo was last used by a client of pull-through (unix ms).
struct RepoUse {
  RepoType type = RepoType::kModel;
  std::string repo;
  int64_t at_ms = 0;
};

// Sync's record of one mirrored repo revision (see the sync_state table).
struct SyncState {
  RepoType type = RepoType::kModel;
  std::string repo;
  std::string revision;
  std::string upstream;         // the upstream's URL, without credentials
  std::string upstream_commit;  // empty when unknown
  std::string local_commit;     // empty until a sync succeeded
  int64_t last_check_ms = 0;
  int64_t last_success_ms = 0;  // 0 until a sync succeeded
  std::string last_error;       // empty after a success
  // Kept current by client requests (pull-through), checked upstream again once older than the
  // server's max_age; otherwise by mirror rules and `hubmirror sync`.
  bool pull_through = false;
};

// The upstream's flags and details of a repo, and what it computes for one of its commits:
// refreshed on every sync, whether the commit changed or not.
struct RepoDetails {
  std::string object_id;  // the Hub's `_id`; empty keeps the mirror's own
  std::string author;     // empty keeps the namespace
  std::string gated = "false";
  bool is_private = false;
  bool disabled = false;
  int64_t created_at_ms = 0;  // 0: unknown, the mirror's own time stays
  int64_t last_modified_ms = 0;
  int64_t downloads = 0;
  int64_t likes = 0;
  // The commit these describe, with its card, tags, pipeline, library, config and safetensors
  // (the other fields of `commit` are not used).
  Commit commit;
};

// What one sync of a repo revision found, recorded at once (see Registry::RecordSyncOutcome).
struct SyncOutcome {
  std::optional<NewRevision> revision;      // none when nothing was published
  std::vector<ModelDetails> details;        // what the upstream says of the model
  std::optional<RepoDetails> repo_details;  // the upstream's flags, when it answered
  SyncState state;
};

// Who looks at the registry, for answers that depend on it (private repos are left out for
// those who may not read them): nobody in particular, or a user with their organizations.
struct Viewer {
  bool is_admin = false;
  int64_t user_id = 0;  // 0: anonymous
  std::string user_name;
  std::vector<std::string> orgs;  // organizations the user is a member of, any role

  // Who sees everything: the CLI, sync, and admins.
  static Viewer Everything() {
    Viewer viewer;
    viewer.is_admin = true;
    return viewer;
  }
};

struct RepoQuery {
  RepoType type = RepoType::kModel;
  // Private repos are listed only for viewers who may read them (admins, the namespace's own user
  // and members, users granted access).
  Viewer viewer = Viewer::Everything();
  std::vector<std::string> search;  // each a case-insensitive substring of the id
  std::string author;               // exact namespace, case-insensitive
  std::vector<std::string> tags;    // every one must be a tag of the repo
  std::string sort = "id";          // id, lastModified, createdAt, downloads, likes, trendingScore
  bool descending = false;
  int64_t offset = 0;
  int64_t limit = 1000;
};

}  // namespace hubmirror::registry
