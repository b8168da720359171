#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "api/access.h"
#include "api/job_control.h"
#include "api/metrics.h"
#include "cli/config_file.h"
#include "storage/blob_store.h"
#include "sync/job_board.h"
#include "sync/maintenance.h"
#include "sync/publisher.h"
#include "sync/pull_through.h"
#include "sync/scheduler.h"
#include "sync/upstream_counters.h"

namespace hubmirror::cli {

// What `serve` runs beside the server: the job board, the sync schedule, upkeep (gc, scrub,
// budget), pull-through and publishing, and the config file they come from. It is the admin API's
// JobControl: admins queue syncs, gc, verify and budget runs, cancel jobs, reload the config and
// read it. Thread-safe; Stop (or destruction) cancels every job and ends the schedules.
class Daemon : public api::JobControl {
 public:
  // Starts the schedules of `config`, read from `config_file` ("" when serve has none: Reload
  // then refuses), and pull-through when it is enabled. kInvalidArgument for an upstream URL
  // that is not http(s).
  static Result<std::shared_ptr<Daemon>> Start(std::filesystem::path config_file,
                                               DaemonConfig config, std::filesystem::path data_dir,
                                               storage::BlobStore& store,
                                               std::shared_ptr<api::AccessServices> access);
  ~Daemon() override;
  void Stop();

  // Pull-through for the server, or null when the config does not enable it.
  std::shared_ptr<api::PullThrough> pull_through() const { return pull_through_; }
  // Publishing for the server, with the config's quotas.
  std::shared_ptr<api::Publisher> publisher() const { return publisher_; }
  // The jobs', upkeep's and upstreams' samples for /metrics.
  std::vector<api::MetricSample> Samples() const;

  std::vector<api::JobView> ListJobs() const override { return board_.List(); }
  std::optional<api::JobView> FindJob(uint64_t id) const override { return board_.Find(id); }
  Result<api::JobView> StartJob(const api::JobRequest& request) override;
  Result<api::JobView> CancelJob(uint64_t id) override { return board_.Cancel(id); }
  Result<nlohmann::json> Reload() override;
  nlohmann::json EffectiveConfig() const override;

 private:
  Daemon(std::filesystem::path config_file, std::filesystem::path data_dir,
         storage::BlobStore& store, std::shared_ptr<api::AccessServices> access)
      : config_file_(std::move(config_file)),
        data_dir_(std::move(data_dir)),
        store_(store),
        access_(std::move(access)) {}

  // The counters of the upstream at `url`, made on first use. Needs mutex_.
  std::shared_ptr<sync::UpstreamCounters> CountersFor(const std::string& url);
  // Applies the schedule of `config`: a sync upstream when it has one, the scheduler when it has
  // rules. Needs mutex_.
  Status ApplySchedule(const sync::ScheduleConfig& schedule);
  // The upkeep config with pull-through's record of repo uses attached.
  sync::MaintenanceConfig Upkeep(sync::MaintenanceConfig upkeep) const;
  Result<api::JobView> StartSync(const api::JobRequest& request);

  const std::filesystem::path config_file_;
  const std::filesystem::path data_dir_;
  storage::BlobStore& store_;
  const std::shared_ptr<api::AccessServices> access_;
  sync::JobBoard board_;
  std::shared_ptr<sync::UpstreamPullThrough> pull_through_;  // set once, at Start
  std::unique_ptr<sync::Maintenance> maintenance_;           // set once, at Start
  std::shared_ptr<sync::RegistryPublisher> publisher_;       // set once, at Start

  mutable std::mutex mutex_;  // guards what follows
  DaemonConfig config_;
  std::shared_ptr<sync::UpstreamHub> sync_upstream_;  // null without an [upstream]
  std::unique_ptr<sync::Scheduler> scheduler_;        // null until there are rules
  std::map<std::string, std::shared_ptr<sync::UpstreamCounters>> counters_;  // by upstream URL
};

}  // namespace hubmirror::cli
