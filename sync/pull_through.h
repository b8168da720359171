#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "api/pull_through.h"
#include "registry/registry.h"
#include "storage/blob_store.h"
#include "sync/upstream_counters.h"
#include "sync/upstream_hub.h"

namespace hubmirror::sync {

// Which repos pull-through may fetch, and how long what it fetched is trusted (`[pull_through]`
// in the server's config). Patterns are fnmatch globs on "ORG/NAME" (both types),
// "models/ORG/NAME" or "datasets/ORG/NAME" (one type); "*" is every repo. Value type.
struct PullThroughPolicy {
  std::vector<std::string> allow{"*"};
  std::vector<std::string> deny;  // wins over allow
  std::chrono::seconds max_age{600};
  bool gated = false;     // repos gated upstream are pulled through too (with the upstream token)
  bool anonymous = true;  // requests without a token may fetch too (else only signed-in users)

  // Whether a request may fetch this repo. Repo ids match case-insensitively, as on the Hub.
  bool Covers(RepoType type, std::string_view repo) const;
  // kInvalidArgument naming the pattern when one is not ORG/GLOB, TYPE/ORG/GLOB or "*".
  static Status ValidatePattern(const std::string& pattern);
};

class ContentFill;

// api::PullThrough over an UpstreamHub: revisions recorded as sync records them (one job, the
// same upstream calls) but with their files' content absent, and each file's content fetched
// when first asked for, streamed to the clients as it is written to the store, and recorded
// once verified. One fetch per revision and one fill per content at a time, however many
// requests want them. While the upstream answers 429 every fetch fails fast until the time it
// asked for has passed. Opens its own registry connections. Thread-safe; the destructor stops
// as Stop does.
class UpstreamPullThrough : public api::PullThrough {
 public:
  // `spool_dir` holds the relayed ranges' bytes (unnamed files, gone when closed).
  // `rate_limited_until_ms` is where the upstream's transport records a 429's wait
  // (UpstreamOptions::rate_limited_until_ms); null when it records none. Fills are counted in
  // `counters` when given.
  UpstreamPullThrough(PullThroughPolicy policy, std::shared_ptr<UpstreamHub> upstream,
                      std::shared_ptr<std::atomic<int64_t>> rate_limited_until_ms,
                      std::shared_ptr<UpstreamCounters> counters, storage::BlobStore& store,
                      std::filesystem::path registry_path, std::filesystem::path spool_dir);
  ~UpstreamPullThrough() override;

  bool Covers(RepoType type, std::string_view repo) const override;
  bool Fresh(RepoType type, std::string_view repo, std::string_view revision) override;
  Status FetchRevision(RepoType type, const std::string& repo,
                       const std::string& revision) override;
  Result<std::shared_ptr<api::ContentStream>> Fill(const api::FileToFetch& file) override;
  Result<std::shared_ptr<api::ContentStream>> PassRange(const api::FileToFetch& file,
                                                        uint64_t first, uint64_t length) override;
  int64_t RetryAfterSeconds() const override;
  void Count(api::CacheOutcome outcome, RepoType type, const std::string& repo) override;
  // The repos used since the last call, with when (for the storage budget's eviction order).
  std::vector<registry::RepoUse> TakeRepoUses();
  void Stop() override;
  bool AnonymousMayFetch() const override { return policy_.anonymous; }
  nlohmann::json Report() const override;

 private:
  struct RevisionFetch;
  using Clock = std::chrono::steady_clock;

  // A thread running one fill or relay, and whether it has ended.
  struct Worker {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> finished;
  };

  // FetchRevision's work, by the one caller that fetches for its key: `trusted_for` is how long
  // its outcome may be answered from without asking again.
  Status FetchNow(RepoType type, const std::string& repo, const std::string& revision,
                  Clock::duration* trusted_for);
  // Fill's work, on the fill's own thread.
  Status FillNow(ContentFill& fill);
  // Runs `work` on a thread of its own, joined once it ended (or by Stop); false, running
  // nothing, once stopped.
  bool Spawn(std::function<void()> work);
  void AddFilledBytes(RepoType type, const std::string& repo, uint64_t bytes);

  const PullThroughPolicy policy_;
  const std::shared_ptr<UpstreamHub> upstream_;
  storage::BlobStore& store_;
  const std::filesystem::path registry_path_;
  const std::filesystem::path spool_dir_;
  std::atomic<bool> stopping_{false};
  // Until when the upstream asked the mirror to wait (a 429's Retry-After), unix ms; shared with
  // the upstream's transport, which records it.
  std::shared_ptr<std::atomic<int64_t>> backoff_until_ms_;
  std::atomic<uint64_t> counts_[3] = {};
  const std::shared_ptr<UpstreamCounters> counters_;  // may be null

  mutable std::mutex mutex_;                                // guards everything below
  std::map<std::string, Clock::time_point> trusted_until_;  // by revision key
  std::map<std::string, std::shared_ptr<RevisionFetch>> fetches_;
  std::map<std::string, std::weak_ptr<ContentFill>> fills_;        // by content key
  std::map<std::string, uint64_t> filled_bytes_;                   // by "type repo"
  std::map<std::pair<RepoType, std::string>, int64_t> repo_uses_;  // unix ms, since taken
  std::list<Worker> threads_;
};

}  // namespace hubmirror::sync
