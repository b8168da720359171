#include "cli/sync_progress.h"

#include <cstdio>

#include "common/log.h"

namespace hubmirror::cli {
namespace {

constexpr auto kRedrawInterval = std::chrono::milliseconds(100);
constexpr size_t kBarWidth = 24;
constexpr size_t kMaxPathShown = 40;

std::string HumanBytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int unit = 0;
  while (bytes >= 1024 && unit < 4) {
    bytes /= 1024;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof text, unit == 0 ? "%.0f %s" : "%.1f %s", bytes, units[unit]);
  return text;
}

std::string HumanSeconds(double seconds) {
  char text[32];
  if (seconds < 60) {
    std::snprintf(text, sizeof text, "%.0fs", seconds);
  } else if (seconds < 3600) {
    std::snprintf(text, sizeof text, "%dm%02ds", static_cast<int>(seconds) / 60,
                  static_cast<int>(seconds) % 60);
  } else {
    std::snprintf(text, sizeof text, "%dh%02dm", static_cast<int>(seconds) / 3600,
                  static_cast<int>(seconds) / 60 % 60);
  }
  return text;
}

}  // namespace

SyncProgress::SyncProgress(std::string label, bool terminal, bool log_lines)
    : label_(std::move(label)), terminal_(terminal), log_lines_(log_lines) {}

SyncProgress::~SyncProgress() {
  std::lock_guard lock(mutex_);
  if (drawn_) std::fputs("\r\033[K", stderr);
}

void SyncProgress::OnPlanned(size_t files, uint64_t bytes) {
  std::lock_guard lock(mutex_);
  files_total_ = files;
  bytes_total_ = bytes;
  if (!terminal_ && log_lines_ && files > 0) {
    Log(LogLevel::kInfo, label_ + ": downloading " + std::to_string(files) + " files (" +
                             HumanBytes(static_cast<double>(bytes)) + ")");
  }
  Draw(true);
}

void SyncProgress::OnBytes(const std::string& path, uint64_t file_size, uint64_t bytes) {
  std::lock_guard lock(mutex_);
  auto& [done, size] = in_flight_[path];
  done += bytes;
  size = file_size;
  bytes_done_ += bytes;
  Draw(false);
}

void SyncProgress::OnFileStored(const std::string& path, uint64_t size, bool fetched) {
  std::lock_guard lock(mutex_);
  if (!fetched) return;
  in_flight_.erase(path);
  ++files_done_;
  if (!terminal_ && log_lines_) {
    Log(LogLevel::kInfo, label_ + ": stored " + path + " (" + std::to_string(size) + " bytes)");
  }
  Draw(true);
}

void SyncProgress::Draw(bool force) {
  if (!terminal_) return;
  auto now = std::chrono::steady_clock::now();
  if (!force && now - last_draw_ < kRedrawInterval) return;
  last_draw_ = now;
  double seconds = std::chrono::duration<double>(now - start_).count();
  double rate = seconds > 0 ? static_cast<double>(bytes_done_) / seconds : 0;
  double fraction =
      bytes_total_ == 0 ? 1.0 : std::min(1.0, static_cast<double>(bytes_done_) / bytes_total_);
  std::string bar(static_cast<size_t>(fraction * kBarWidth), '#');
  bar.resize(kBarWidth, '.');
  std::string line = label_ + " [" + bar + "] " + std::to_string(static_cast<int>(fraction * 100)) +
                     "% " + HumanBytes(static_cast<double>(bytes_done_)) + "/" +
                     HumanBytes(static_cast<double>(bytes_total_)) + " " + HumanBytes(rate) + "/s";
  if (rate > 0 && bytes_total_ > bytes_done_) {
    line += " ETA " + HumanSeconds(static_cast<double>(bytes_total_ - bytes_done_) / rate);
  }
  line += " files " + std::to_string(files_done_) + "/" + std::to_string(files_total_);
  // The file in flight with the most left to go is the one worth watching.
  const std::string* current = nullptr;
  uint64_t most_left = 0;
  for (const auto& [path, progress] : in_flight_) {
    uint64_t left = progress.second - std::min(progress.first, progress.second);
    if (current == nullptr || left > most_left) {
      current = &path;
      most_left = left;
    }
  }
  if (current != nullptr) {
    const auto& [done, size] = in_flight_[*current];
    std::string shown = current->size() > kMaxPathShown
                            ? "..." + current->substr(current->size() - kMaxPathShown + 3)
                            : *current;
    line += " | " + shown + " " +
            std::to_string(size == 0 ? 100 : static_cast<int>(done * 100 / size)) + "%";
  }
  std::fprintf(stderr, "\r\033[K%s", line.c_str());
  std::fflush(stderr);
  drawn_ = true;
}

}  // namespace hubmirror::cli
