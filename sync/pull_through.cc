#include "sync/pull_through.h"

#include <fcntl.h>
#include <fnmatch.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <list>

#include "common/clock.h"
#include "common/digest.h"
#include "common/files.h"
#include "common/log.h"
#include "registry/registry.h"
#include "sync/mirror_job.h"

namespace hubmirror::sync {
namespace {

// A failed check of a revision the registry can still answer, or of a name the upstream does not
// know, is not retried for this long: an outage or a stream of unknown names costs one upstream
// call per revision now and then, not one per request.
constexpr std::chrono::seconds kRetryAfterFailure{30};
// Commit ids never change what they name.
constexpr std::chrono::hours kCommitTrust{24 * 365};
// Trusted revisions remembered at most; past it the memory is forgotten (each revision then
// costs one registry look again, not an upstream call while its record is fresh).
constexpr size_t kMaxTrustedRevisions = 100000;

std::string RevisionKey(RepoType type, std::string_view repo, std::string_view revision) {
  return std::string(RepoTypeName(type)) + " " + AsciiLower(repo) + "@" + std::string(revision);
}

std::string ContentKey(const api::FileToFetch& file) {
  return file.lfs ? "sha256:" + file.sha256
                  : "git:" + file.git_oid + ":" + std::to_string(file.size);
}

std::string Describe(const api::FileToFetch& file) {
  return std::string(RepoTypeName(file.type)) + " " + file.repo + "@" + file.commit_id + " " +
         file.path;
}

bool Matches(const std::string& pattern, RepoType type, const std::string& repo_lower) {
  if (pattern == "*") return true;
  std::string subject = repo_lower;
  std::string glob = AsciiLower(pattern);
  if (std::count(glob.begin(), glob.end(), '/') == 2) {
    std::string prefix = type == RepoType::kModel ? "models/" : "datasets/";
    if (!glob.starts_with(prefix)) return false;
    glob = glob.substr(prefix.size());
  }
  return ::fnmatch(glob.c_str(), subject.c_str(), FNM_PATHNAME) == 0;
}

}  // namespace

// The progress of one fetch and the readers waiting for more of it. Thread-safe.
class FetchProgress {
 public:
  api::ContentStream::Progress Poll(uint64_t known_ready, std::function<void()> wake) {
    std::lock_guard lock(mutex_);
    if (state_ == api::ContentStream::State::kRunning && ready_ <= known_ready && wake) {
      wakers_.push_back(std::move(wake));
    }
    return {ready_, state_};
  }

  void Advance(uint64_t ready) {
    std::unique_lock lock(mutex_);
    if (ready <= ready_) return;
    ready_ = ready;
    Wake(lock);
  }

  void Finish(api::ContentStream::State state, std::string failure) {
    std::unique_lock lock(mutex_);
    state_ = state;
    failure_ = std::move(failure);
    Wake(lock);
  }

  uint64_t ready() const {
    std::lock_guard lock(mutex_);
    return ready_;
  }

  std::string failure() const {
    std::lock_guard lock(mutex_);
    return failure_;
  }

 private:
  void Wake(std::unique_lock<std::mutex>& lock) {
    std::vector<std::function<void()>> wakers;
    wakers.swap(wakers_);
    lock.unlock();
    for (auto& wake : wakers) wake();
  }

  mutable std::mutex mutex_;
  uint64_t ready_ = 0;
  api::ContentStream::State state_ = api::ContentStream::State::kRunning;
  std::string failure_;
  std::vector<std::function<void()>> wakers_;
};

// One file's content being fetched into the store, readable as it is written. The descriptor is
// set once, by the fetching thread, before any byte is reported ready.
class ContentFill : public api::ContentStream {
 public:
  explicit ContentFill(api::FileToFetch file) : file_(std::move(file)) {}

  int fd() const override { return readable_fd_.load(std::memory_order_acquire); }
  uint64_t size() const override { return file_.size; }
  Progress Poll(uint64_t known_ready, std::function<void()> wake) override {
    return progress_.Poll(known_ready, std::move(wake));
  }
  std::string failure() const override { return progress_.failure(); }

  // Called once, by the fetching thread.
  void SetReadable(storage::BlobFile readable) {
    readable_ = std::move(readable);
    readable_fd_.store(readable_.fd(), std::memory_order_release);
  }

  const api::FileToFetch file_;
  FetchProgress progress_;

 private:
  storage::BlobFile readable_{-1, 0};
  std::atomic<int> readable_fd_{-1};
};

// One range of a file relayed from the upstream into an unnamed spool file. Thread-safe.
class RangeRelay : public api::ContentStream {
 public:
  RangeRelay(int fd, uint64_t length) : fd_(fd), length_(length) {}
  ~RangeRelay() override { ::close(fd_); }

  int fd() const override { return fd_; }
  uint64_t size() const override { return length_; }
  Progress Poll(uint64_t known_ready, std::function<void()> wake) override {
    return progress_.Poll(known_ready, std::move(wake));
  }
  std::string failure() const override { return progress_.failure(); }

  const int fd_;
  const uint64_t length_;
  FetchProgress progress_;
};

struct UpstreamPullThrough::RevisionFetch {
  std::mutex mutex;  // guards done and status
  std::condition_variable finished;
  bool done = false;
  Status status;
};

bool PullThroughPolicy::Covers(RepoType type, std::string_view repo) const {
  std::string lower = AsciiLower(repo);
  auto any = [&](const std::vector<std::string>& patterns) {
    return std::any_of(patterns.begin(), patterns.end(),
                       [&](const std::string& p) { return Matches(p, type, lower); });
  };
  return any(allow) && !any(deny);
}

Status PullThroughPolicy::ValidatePattern(const std::string& pattern) {
  if (pattern == "*") return Status::Ok();
  auto slashes = std::count(pattern.begin(), pattern.end(), '/');
  bool typed = pattern.starts_with("models/") || pattern.starts_with("datasets/");
  if (pattern.empty() || slashes == 0 || slashes > 2 || (slashes == 2 && !typed)) {
    return InvalidArgument("pattern '" + pattern +
                           "' is not \"*\", ORG/GLOB, models/ORG/GLOB or datasets/ORG/GLOB");
  }
  return Status::Ok();
}

UpstreamPullThrough::UpstreamPullThrough(
    PullThroughPolicy policy, std::shared_ptr<UpstreamHub> upstream,
    std::shared_ptr<std::atomic<int64_t>> rate_limited_until_ms,
    std::shared_ptr<UpstreamCounters> counters, storage::BlobStore& store,
    std::filesystem::path registry_path, std::filesystem::path spool_dir)
    : policy_(std::move(policy)),
      upstream_(std::move(upstream)),
      store_(store),
      registry_path_(std::move(registry_path)),
      spool_dir_(std::move(spool_dir)),
      backoff_until_ms_(rate_limited_until_ms ? std::move(rate_limited_until_ms)
                                              : std::make_shared<std::atomic<int64_t>>(0)),
      counters_(std::move(counters)) {}

UpstreamPullThrough::~UpstreamPullThrough() { Stop(); }

void UpstreamPullThrough::Stop() {
  std::list<Worker> threads;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    threads.swap(threads_);
  }
  for (auto& worker : threads) worker.thread.join();
}

bool UpstreamPullThrough::Covers(RepoType type, std::string_view repo) const {
  return policy_.Covers(type, repo);
}

bool UpstreamPullThrough::Fresh(RepoType type, std::string_view repo, std::string_view revision) {
  std::lock_guard lock(mutex_);
  auto trusted = trusted_until_.find(RevisionKey(type, repo, revision));
  return trusted != trusted_until_.end() && trusted->second > Clock::now();
}

Status UpstreamPullThrough::FetchRevision(RepoType type, const std::string& repo,
                                          const std::string& revision) {
  std::string key = RevisionKey(type, repo, revision);
  std::shared_ptr<RevisionFetch> fetch;
  bool mine = false;
  {
    std::lock_guard lock(mutex_);
    auto trusted = trusted_until_.find(key);
    if (trusted != trusted_until_.end() && trusted->second > Clock::now()) return Status::Ok();
    auto& slot = fetches_[key];
    if (!slot) {
      slot = std::make_shared<RevisionFetch>();
      mine = true;
    }
    fetch = slot;
  }
  if (!mine) {  // another request asks the upstream already: its answer is this one's
    std::unique_lock lock(fetch->mutex);
    fetch->finished.wait(lock, [&] { return fetch->done; });
    return fetch->status;
  }
  Clock::duration trusted_for{};
  Status status = FetchNow(type, repo, revision, &trusted_for);
  {
    std::lock_guard lock(mutex_);
    fetches_.erase(key);
    if (trusted_until_.size() >= kMaxTrustedRevisions) trusted_until_.clear();
    if (trusted_for > Clock::duration::zero()) trusted_until_[key] = Clock::now() + trusted_for;
  }
  {
    std::lock_guard lock(fetch->mutex);
    fetch->done = true;
    fetch->status = status;
  }
  fetch->finished.notify_all();
  return status;
}

Status UpstreamPullThrough::FetchNow(RepoType type, const std::string& repo,
                                     const std::string& revision, Clock::duration* trusted_for) {
  auto registry = registry::Registry::Open(registry_path_, registry::Registry::Mode::kReadWrite);
  if (!registry.ok()) return registry.status();
  bool commit_id = IsSha1Hex(revision);
  bool answerable = false;
  if (auto local = (*registry)->FindRepo(type, repo); local.ok()) {
    // A repo imported here (or carried by a bundle) is this instance's own, whatever the
    // upstream has under the same name: nothing of the upstream's is mixed into it.
    auto synced = (*registry)->HasSyncState(type, local->name);
    if (!synced.ok()) return synced.status();
    if (!*synced) {
      *trusted_for = policy_.max_age;
      return Status::Ok();
    }
    answerable = (*registry)->ResolveRevision(*local, revision).ok();
    if (answerable && commit_id) {
      *trusted_for = kCommitTrust;
      return Status::Ok();
    }
    if (answerable) {
      auto state = (*registry)->FindSyncState(type, local->name, revision);
      if (!state.ok()) return state.status();
      // What a rule, a sync or an import keeps current is theirs to refresh.
      if (!state->has_value() || !(*state)->pull_through) {
        *trusted_for = policy_.max_age;
        return Status::Ok();
      }
      auto age = std::chrono::milliseconds(NowUnixMillis() - (*state)->last_check_ms);
      if ((*state)->last_error.empty() && age < policy_.max_age) {
        *trusted_for = policy_.max_age - age;
        return Status::Ok();
      }
    }
  }
  if (int64_t wait = RetryAfterSeconds(); wait > 0) {
    if (answerable) *trusted_for = std::chrono::seconds(wait);
    return IoError(upstream_->Name() + " asked this mirror to slow down (429); retry in " +
                   std::to_string(wait) + " s");
  }
  MirrorSpec spec;
  spec.type = type;
  spec.repo = repo;
  spec.revision = revision;
  spec.content_on_demand = true;
  spec.refuse_gated = !policy_.gated;
  auto mirrored = MirrorRepo(*upstream_, store_, **registry, spec);
  if (mirrored.ok()) {
    *trusted_for = commit_id ? Clock::duration(kCommitTrust) : Clock::duration(policy_.max_age);
    return Status::Ok();
  }
  StatusCode code = mirrored.status().code();
  // Names the upstream does not know are not asked about again at once, so that a client cannot
  // turn each of its requests into an upstream call; nor, while the registry can answer, is an
  // upstream that failed.
  if (code == StatusCode::kRepoNotFound || code == StatusCode::kRevisionNotFound ||
      (answerable && code == StatusCode::kIoError)) {
    *trusted_for = std::min<Clock::duration>(policy_.max_age, kRetryAfterFailure);
  }
  if (code != StatusCode::kIoError) return mirrored.status();
  Log(LogLevel::kWarning, "pull-through: " + mirrored.status().message());
  return IoError("upstream " + upstream_->Name() + " unavailable: " + mirrored.status().message());
}

Result<std::shared_ptr<api::ContentStream>> UpstreamPullThrough::Fill(
    const api::FileToFetch& file) {
  std::string key = ContentKey(file);
  std::shared_ptr<ContentFill> fill;
  {
    std::lock_guard lock(mutex_);
    // A fill that failed is not joined, even in the moment before its thread forgets it.
    if (auto live = fills_[key].lock();
        live && live->progress_.Poll(UINT64_MAX, {}).state != api::ContentStream::State::kFailed) {
      return std::shared_ptr<api::ContentStream>(live);
    }
    fill = std::make_shared<ContentFill>(file);
    fills_[key] = fill;
  }
  bool started = Spawn([this, fill, key] {
    Status status = FillNow(*fill);
    if (status.ok()) {
      fill->progress_.Finish(api::ContentStream::State::kDone, "");
    } else {
      Log(LogLevel::kWarning, "pull-through: " + status.message());
      if (counters_ != nullptr) ++counters_->fill_errors;
      fill->progress_.Finish(api::ContentStream::State::kFailed, status.message());
    }
    std::lock_guard lock(mutex_);
    auto slot = fills_.find(key);
    if (slot != fills_.end() && slot->second.lock() == fill) fills_.erase(slot);
  });
  if (!started) return IoError("the server is stopping");
  return std::shared_ptr<api::ContentStream>(fill);
}

Status UpstreamPullThrough::FillNow(ContentFill& fill) {
  const api::FileToFetch& file = fill.file_;
  auto registry = registry::Registry::Open(registry_path_, registry::Registry::Mode::kReadWrite);
  if (!registry.ok()) return registry.status();
  registry::FilledContent filled{file.type, file.repo, file.commit_id, file.path, {}};
  // Held until the filled content's row is written: garbage collection keeps it meanwhile.
  auto lease = store_.LeaseWrites();
  if (!lease.ok()) return lease.status();
  // Content stored already (another file has the same bytes) only needs its record.
  std::string known = file.sha256;
  if (!file.lfs) {
    auto found = (*registry)->FindBlobByGitSha1(file.git_oid, file.size);
    if (!found.ok()) return found.status();
    known = found->value_or("");
  }
  if (!known.empty()) {
    if (auto stored = store_.Open(known);
        stored.ok() && stored->size() == file.size && store_.Touch(known).ok()) {
      fill.SetReadable(std::move(stored.value()));
      filled.blob = {known, file.size, file.lfs ? "" : file.git_oid};
      HM_RETURN_IF_ERROR((*registry)->RecordFilledContent(filled));
      fill.progress_.Advance(file.size);
      return Status::Ok();
    }
  }
  storage::BlobExpectation expectation;
  expectation.size = file.size;
  expectation.sha256 = file.lfs ? file.sha256 : "";
  expectation.git_sha1 = file.lfs ? "" : file.git_oid;
  expectation.resumable = true;
  expectation.compute_git_sha1 = !file.lfs;
  auto writer = store_.NewWriter(expectation);
  if (!writer.ok()) return writer.status();
  auto readable = (*writer)->OpenWritten();
  if (!readable.ok()) return readable.status();
  fill.SetReadable(std::move(readable.value()));
  fill.progress_.Advance((*writer)->readable_bytes());
  uint64_t fetched = 0;
  DownloadInfo info;
  Status downloaded = upstream_->Download(
      file.type, file.repo, file.commit_id, file.path, file.size, (*writer)->resumed_bytes(),
      [&](const char* data, size_t size) {
        if (stopping_) return IoError("the server is stopping");
        HM_RETURN_IF_ERROR((*writer)->Append(data, size));
        fetched += size;
        fill.progress_.Advance((*writer)->readable_bytes());
        return Status::Ok();
      },
      &info);
  if (!downloaded.ok()) return downloaded;
  auto committed = (*writer)->Commit();
  if (!committed.ok()) {
    return Status(committed.status().code(), Describe(file) + " from " + upstream_->Name() + ": " +
                                                 committed.status().message() +
                                                 "; nothing was stored");
  }
  filled.blob = {committed->sha256, committed->size, committed->git_sha1};
  HM_RETURN_IF_ERROR((*registry)->RecordFilledContent(filled));
  AddFilledBytes(file.type, file.repo, fetched);
  if (counters_ != nullptr) {
    ++counters_->fill_files;
    counters_->fill_bytes += fetched;
  }
  fill.progress_.Advance(file.size);
  Log(LogLevel::kInfo, "pull-through: stored " + Describe(file) + " (" + std::to_string(file.size) +
                           " bytes, sha256 " + committed->sha256 + ")");
  return Status::Ok();
}

Result<std::shared_ptr<api::ContentStream>> UpstreamPullThrough::PassRange(
    const api::FileToFetch& file, uint64_t first, uint64_t length) {
  // The whole file is filled beside the relay, so that the next request finds it stored.
  if (auto started = Fill(file); !started.ok()) return started.status();
  int fd = ::open(spool_dir_.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
    // File systems without unnamed files (older overlayfs): a named one, unlinked at once.
    std::string name = (spool_dir_ / "relay-XXXXXX").string();
    fd = ::mkostemp(name.data(), O_CLOEXEC);
    if (fd >= 0) ::unlink(name.c_str());
  }
  if (fd < 0) return ErrnoStatus("cannot create a spool file in " + spool_dir_.string(), errno);
  auto relay = std::make_shared<RangeRelay>(fd, length);
  api::FileToFetch source = file;
  bool started = Spawn([this, relay, source, first] {
    uint64_t got = 0;
    bool complete = false;
    DownloadInfo info;
    Status status = upstream_->Download(
        source.type, source.repo, source.commit_id, source.path, source.size, first,
        [&](const char* data, size_t size) {
          if (stopping_) return IoError("the server is stopping");
          size_t taken = static_cast<size_t>(std::min<uint64_t>(size, relay->length_ - got));
          Status written = WriteFullyAt(relay->fd_, got, data, taken);
          if (!written.ok()) return written;
          got += taken;
          relay->progress_.Advance(got);
          complete = got == relay->length_;
          // Ending the transfer early is how a relay stops at the end of its range.
          return complete ? Status(StatusCode::kAlreadyExists, "range complete") : Status::Ok();
        },
        &info);
    if (complete || (status.ok() && got == relay->length_)) {
      relay->progress_.Finish(api::ContentStream::State::kDone, "");
    } else {
      std::string why = status.ok() ? "the upstream sent fewer bytes than asked" : status.message();
      relay->progress_.Finish(api::ContentStream::State::kFailed,
                              Describe(source) + ": range relay failed: " + why);
    }
  });
  if (!started) return IoError("the server is stopping");
  return std::shared_ptr<api::ContentStream>(relay);
}

bool UpstreamPullThrough::Spawn(std::function<void()> work) {
  auto finished = std::make_shared<std::atomic<bool>>(false);
  std::lock_guard lock(mutex_);
  if (stopping_) return false;
  // Threads that ended are joined here, so that a server running for months holds none.
  for (auto it = threads_.begin(); it != threads_.end();) {
    if (!it->finished->load()) {
      ++it;
      continue;
    }
    it->thread.join();
    it = threads_.erase(it);
  }
  threads_.push_back({std::thread([work = std::move(work), finished] {
                        work();
                        finished->store(true);
                      }),
                      finished});
  return true;
}

int64_t UpstreamPullThrough::RetryAfterSeconds() const {
  int64_t left = backoff_until_ms_->load() - NowUnixMillis();
  return left > 0 ? (left + 999) / 1000 : 0;
}

void UpstreamPullThrough::Count(api::CacheOutcome outcome, RepoType type, const std::string& repo) {
  counts_[static_cast<size_t>(outcome)].fetch_add(1, std::memory_order_relaxed);
  std::lock_guard lock(mutex_);
  repo_uses_[{type, repo}] = NowUnixMillis();
}

std::vector<registry::RepoUse> UpstreamPullThrough::TakeRepoUses() {
  std::lock_guard lock(mutex_);
  std::vector<registry::RepoUse> uses;
  for (const auto& [key, at_ms] : repo_uses_) uses.push_back({key.first, key.second, at_ms});
  repo_uses_.clear();
  return uses;
}

void UpstreamPullThrough::AddFilledBytes(RepoType type, const std::string& repo, uint64_t bytes) {
  std::lock_guard lock(mutex_);
  filled_bytes_[std::string(RepoTypeName(type)) + " " + repo] += bytes;
}

nlohmann::json UpstreamPullThrough::Report() const {
  using nlohmann::json;
  std::lock_guard lock(mutex_);
  json fills = json::array();
  for (const auto& [key, weak] : fills_) {
    auto fill = weak.lock();
    if (!fill) continue;
    const api::FileToFetch& file = fill->file_;
    fills.push_back({{"type", RepoTypeName(file.type)},
                     {"repo", file.repo},
                     {"commit", file.commit_id},
                     {"path", file.path},
                     {"sha256", file.lfs ? json(file.sha256) : json()},
                     {"size", file.size},
                     {"bytes", fill->progress_.ready()}});
  }
  json filled = json::array();
  for (const auto& [repo, bytes] : filled_bytes_) {
    size_t space = repo.find(' ');
    filled.push_back(
        {{"type", repo.substr(0, space)}, {"repo", repo.substr(space + 1)}, {"bytes", bytes}});
  }
  return {{"enabled", true},
          {"upstream", upstream_->Name()},
          {"max_age_seconds", policy_.max_age.count()},
          {"fills", fills},
          {"filled_bytes", filled},
          {"requests",
           {{"hit", counts_[0].load()}, {"fill", counts_[1].load()}, {"pass", counts_[2].load()}}}};
}

}  // namespace hubmirror::sync
