#include "sync/job_board.h"

#include <algorithm>

#include "common/clock.h"

namespace hubmirror::sync {

namespace {

// The work's outcome; an exception (a bug, or memory exhausted) fails the job, not the daemon.
Result<nlohmann::json> RunWork(const JobWork& work, JobContext& context) {
  try {
    return work(context);
  } catch (const std::exception& e) {
    return Internal(std::string("the job stopped on an unexpected error: ") + e.what());
  }
}

}  // namespace

JobBoard::~JobBoard() { Stop(); }

std::shared_ptr<JobBoard::Job> JobBoard::Enqueue(api::JobKind kind, std::string target,
                                                 std::string trigger) {
  auto job = std::make_shared<Job>(next_id_++);
  job->view.id = job->context.id();
  job->view.kind = kind;
  job->view.target = std::move(target);
  job->view.trigger = std::move(trigger);
  job->view.queued_ms = NowUnixMillis();
  active_.emplace(job->view.id, job);
  return job;
}

bool JobBoard::MayStart(const Job& job) const {
  if (running_kind_[static_cast<size_t>(job.view.kind)]) return false;
  for (const auto& [id, other] : active_) {
    if (id >= job.view.id) break;
    if (other->view.kind == job.view.kind && other->view.state == api::JobState::kQueued) {
      return false;
    }
  }
  return true;
}

api::JobView JobBoard::ViewOf(const Job& job) const {
  api::JobView view = job.view;
  view.progress = job.context.Progress();
  view.cancel_requested = job.context.cancel().load();
  return view;
}

void JobBoard::Finish(const std::shared_ptr<Job>& job) {
  job->view.finished_ms = NowUnixMillis();
  active_.erase(job->view.id);
  finished_.push_back(job);
  while (finished_.size() > kKeptFinished) finished_.pop_front();
  auto thread = threads_.find(job->view.id);
  if (thread != threads_.end()) {
    done_threads_.push_back(std::move(thread->second));
    threads_.erase(thread);
  }
}

api::JobView JobBoard::Execute(const std::shared_ptr<Job>& job, const JobWork& work) {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return job->context.cancel_ || MayStart(*job); });
  if (job->context.cancel_) {
    job->view.state = api::JobState::kCancelled;
    Finish(job);
    changed_.notify_all();
    return ViewOf(*job);
  }
  size_t kind = static_cast<size_t>(job->view.kind);
  running_kind_[kind] = true;
  job->view.state = api::JobState::kRunning;
  job->view.started_ms = NowUnixMillis();
  lock.unlock();

  Result<nlohmann::json> outcome = RunWork(work, job->context);

  lock.lock();
  running_kind_[kind] = false;
  if (job->context.cancel_) {
    job->view.state = api::JobState::kCancelled;
  } else if (outcome.ok()) {
    job->view.state = api::JobState::kSucceeded;
    job->view.result = std::move(outcome.value());
  } else {
    job->view.state = api::JobState::kFailed;
    job->view.error = outcome.status().message();
  }
  Finish(job);
  api::JobView view = ViewOf(*job);
  lock.unlock();
  changed_.notify_all();
  return view;
}

api::JobView JobBoard::Run(api::JobKind kind, std::string target, std::string trigger,
                           JobWork work) {
  std::shared_ptr<Job> job;
  {
    std::lock_guard lock(mutex_);
    job = Enqueue(kind, std::move(target), std::move(trigger));
    if (stopped_) job->context.cancel_ = true;
  }
  return Execute(job, work);
}

Result<api::JobView> JobBoard::Submit(api::JobKind kind, std::string target, std::string trigger,
                                      JobWork work) {
  ReapThreads();
  std::lock_guard lock(mutex_);
  if (stopped_) return Status(StatusCode::kFailedPrecondition, "the server is stopping");
  size_t waiting = std::count_if(active_.begin(), active_.end(), [](const auto& entry) {
    return entry.second->submitted && entry.second->view.state == api::JobState::kQueued;
  });
  if (waiting >= kMaxWaiting) {
    return Status(
        StatusCode::kFailedPrecondition,
        std::to_string(waiting) + " jobs are queued already; wait for them or cancel some");
  }
  std::shared_ptr<Job> job = Enqueue(kind, std::move(target), std::move(trigger));
  job->submitted = true;
  // The thread waits for mutex_ before anything else, so it finds itself in threads_.
  threads_.emplace(job->view.id,
                   std::thread([this, job, work = std::move(work)] { Execute(job, work); }));
  return ViewOf(*job);
}

std::vector<api::JobView> JobBoard::List() const {
  std::lock_guard lock(mutex_);
  std::vector<api::JobView> views;
  views.reserve(active_.size() + finished_.size());
  for (auto it = active_.rbegin(); it != active_.rend(); ++it) views.push_back(ViewOf(*it->second));
  std::stable_partition(views.begin(), views.end(),
                        [](const api::JobView& v) { return v.state == api::JobState::kRunning; });
  for (auto it = finished_.rbegin(); it != finished_.rend(); ++it) views.push_back(ViewOf(**it));
  return views;
}

std::optional<api::JobView> JobBoard::Find(uint64_t id) const {
  std::lock_guard lock(mutex_);
  if (auto it = active_.find(id); it != active_.end()) return ViewOf(*it->second);
  for (const auto& job : finished_) {
    if (job->view.id == id) return ViewOf(*job);
  }
  return std::nullopt;
}

Result<api::JobView> JobBoard::Cancel(uint64_t id) {
  std::lock_guard lock(mutex_);
  auto it = active_.find(id);
  if (it == active_.end()) {
    for (const auto& job : finished_) {
      if (job->view.id == id) {
        return Status(StatusCode::kFailedPrecondition,
                      "job " + std::to_string(id) + " has finished (" +
                          std::string(api::JobStateName(job->view.state)) + ")");
      }
    }
    return NotFound("no job " + std::to_string(id));
  }
  it->second->context.cancel_ = true;
  changed_.notify_all();
  return ViewOf(*it->second);
}

void JobBoard::ReapThreads() {
  std::vector<std::thread> done;
  {
    std::lock_guard lock(mutex_);
    done.swap(done_threads_);
  }
  for (auto& thread : done) thread.join();
}

void JobBoard::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopped_ = true;
    for (auto& [id, job] : active_) job->context.cancel_ = true;
  }
  changed_.notify_all();
  // Each thread moves itself to done_threads_ as it ends; wait until all have.
  for (;;) {
    ReapThreads();
    std::unique_lock lock(mutex_);
    if (threads_.empty() && done_threads_.empty()) break;
    changed_.wait(lock, [&] { return !done_threads_.empty() || threads_.empty(); });
  }
}

}  // namespace hubmirror::sync
