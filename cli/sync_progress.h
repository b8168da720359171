#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "sync/mirror_job.h"

namespace hubmirror::cli {

// Shows one mirror job's progress on stderr: on a terminal, a bar redrawn in place (overall
// bytes, rate, ETA, files, and the file in flight); otherwise plain log lines, one per file.
// Thread-safe: the download threads report to it concurrently.
class SyncProgress : public sync::MirrorObserver {
 public:
  // Off a terminal, `log_lines` logs the plan and each file stored; a bar is drawn only on one.
  SyncProgress(std::string label, bool terminal, bool log_lines = true);
  // Erases the bar, so the job's result line stands alone.
  ~SyncProgress() override;

  void OnPlanned(size_t files, uint64_t bytes) override;
  void OnBytes(const std::string& path, uint64_t file_size, uint64_t bytes) override;
  void OnFileStored(const std::string& path, uint64_t size, bool fetched) override;

 private:
  void Draw(bool force);  // with mutex_ held

  const std::string label_;
  const bool terminal_;
  const bool log_lines_;
  const std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::mutex mutex_;  // guards everything below
  std::chrono::steady_clock::time_point last_draw_;
  size_t files_total_ = 0;
  size_t files_done_ = 0;
  uint64_t bytes_total_ = 0;
  uint64_t bytes_done_ = 0;
  std::map<std::string, std::pair<uint64_t, uint64_t>> in_flight_;  // path -> (done, size)
  bool drawn_ = false;
};

}  // namespace hubmirror::cli
