#pragma once

// What the API needs from the sync layer to fill itself from an upstream on demand
// (`[pull_through]` in the server's config). The API owns these interfaces and never depends on
// sync/: the sync layer implements them (sync/pull_through.h) and cli/ wires the two together.

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/names.h"
#include "common/status.h"

namespace hubmirror::api {

// The bytes of one fetch from the upstream as they arrive, in a local file that the server sends
// from while the fetch goes on: a whole file being filled into the store, or one range relayed.
// A whole file's bytes are only all readable once they proved right (kDone): until then the
// server holds the last byte back, so that a client never receives bad bytes complete. Thread-
// safe: the fetch runs on its own thread, readers poll from theirs.
class ContentStream {
 public:
  enum class State { kRunning, kDone, kFailed };
  struct Progress {
    uint64_t ready = 0;  // bytes from the start that the descriptor can read now
    State state = State::kRunning;
  };

  virtual ~ContentStream() = default;
  // Readable with pread/sendfile at offsets [0, size()) for as long as the stream lives.
  virtual int fd() const = 0;
  virtual uint64_t size() const = 0;
  // Where the fetch is. When it is still running and no more than `known_ready` bytes are ready,
  // `wake` is kept and called once, on the fetch's thread, when more bytes or the end arrive.
  virtual Progress Poll(uint64_t known_ready, std::function<void()> wake) = 0;
  // Why the fetch failed (one line naming the file and the upstream); empty otherwise.
  virtual std::string failure() const = 0;
};

// A file of a recorded revision whose content is to be fetched.
struct FileToFetch {
  RepoType type = RepoType::kModel;
  std::string repo;
  std::string commit_id;
  std::string path;
  uint64_t size = 0;
  bool lfs = false;
  std::string sha256;   // LFS files: the content's digest as the upstream declared it
  std::string git_oid;  // the git blob id (for a git-stored file, its content's)
};

// A revision that pull-through must ask the upstream about before a request can be answered.
struct RevisionToFetch {
  RepoType type = RepoType::kModel;
  std::string repo;
  std::string revision;
};

// How a request was answered, for the X-Mirror-Cache header and the counters.
enum class CacheOutcome { kHit, kFill, kPass };
inline std::string_view CacheOutcomeName(CacheOutcome outcome) {
  switch (outcome) {
    case CacheOutcome::kHit:
      return "hit";
    case CacheOutcome::kFill:
      return "fill";
    case CacheOutcome::kPass:
      return "pass";
  }
  return "hit";
}

// Pull-through: metadata and content that the registry lacks, fetched from the upstream when a
// client asks. Errors of FetchRevision, Fill and PassRange: kRepoNotFound / kRevisionNotFound as
// the upstream says; kFailedPrecondition for a repo the policy will not pull (gated upstream);
// kIoError when the upstream cannot be reached, fails, or asked the mirror to wait (then
// RetryAfterSeconds() > 0); the message names the upstream. Thread-safe.
class PullThrough {
 public:
  virtual ~PullThrough() = default;
  // Whether the policy lets requests fetch this repo (allow and deny patterns), and whether
  // requests without a token may. Cheap.
  virtual bool Covers(RepoType type, std::string_view repo) const = 0;
  virtual bool AnonymousMayFetch() const = 0;
  // True when what the registry holds of this revision may be answered without asking the
  // upstream: checked within max_age (a commit id: ever). Cheap and non-blocking.
  virtual bool Fresh(RepoType type, std::string_view repo, std::string_view revision) = 0;
  // Blocks while it asks the upstream about the revision (at most one call per repo and revision
  // in flight; others wait for its answer) and records it, its files' content absent until
  // fetched. Does nothing when the record is fresh.
  virtual Status FetchRevision(RepoType type, const std::string& repo,
                               const std::string& revision) = 0;
  // Starts fetching the file's content into the store, or joins the fetch in progress; does not
  // block on the upstream. The stream ends kDone once the content is stored and verified.
  virtual Result<std::shared_ptr<ContentStream>> Fill(const FileToFetch& file) = 0;
  // Relays bytes [first, first + length) of the file from the upstream without storing them
  // (their digest cannot be checked), and starts a fill of the whole file beside it.
  virtual Result<std::shared_ptr<ContentStream>> PassRange(const FileToFetch& file, uint64_t first,
                                                           uint64_t length) = 0;
  // Seconds the upstream asked the mirror to wait (429), 0 when it did not.
  virtual int64_t RetryAfterSeconds() const = 0;
  // Counts a file request answered so (for /api/mirror/status and /metrics), and notes that the
  // repo was used now (the storage budget evicts the least recently used first).
  virtual void Count(CacheOutcome outcome, RepoType type, const std::string& repo) = 0;
  // Ends the fetches in progress (their streams fail; a fill's partial bytes are kept for the
  // next one to resume) and waits for their threads. Later calls start nothing.
  virtual void Stop() = 0;
  // The `pull_through` object of /api/mirror/status: upstream, fills in progress, bytes filled per
  // repo, requests counted.
  virtual nlohmann::json Report() const = 0;
};

}  // namespace hubmirror::api
