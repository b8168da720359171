#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace hubmirror::testing {

// The `hubmirror` binary under test (set by the build).
std::filesystem::path HubmirrorBinary();

struct CommandResult {
  int exit_code = -1;  // the exit status, or -SIGNAL when killed by a signal
  std::string out;
  std::string err;
};

// Runs `hubmirror ARGS...` to completion with stdin from /dev/null, capturing stdout and
// stderr; kills it (and reports -SIGKILL) if it outlives `timeout`. fork/exec, no shell.
CommandResult RunHubmirror(const std::vector<std::string>& args,
                           std::chrono::seconds timeout = std::chrono::seconds(60));

// `hubmirror import --data DATA --repo REPO [--type TYPE] [--branch BRANCH] SOURCE`; an empty
// `type` or `branch` leaves the option out, so the CLI default applies.
CommandResult ImportFolder(const std::filesystem::path& data_dir, const std::string& repo,
                           const std::filesystem::path& source, const std::string& type = "",
                           const std::string& branch = "");

// A running `hubmirror serve --data DIR --listen 127.0.0.1:0` child process. Start returns once
// the server has printed its `listening on http://127.0.0.1:PORT` line; the destructor sends
// SIGTERM and reaps it (SIGKILL if it does not exit within a few seconds). A helper thread keeps
// draining the child's stdout and stderr so it can never block on a full pipe. Methods may be
// called from any thread; Stop and the destructor must not race each other.
class ServerProcess {
 public:
  // Throws std::runtime_error when the binary cannot be started or does not report its address
  // within `timeout` (the message carries what it wrote to stderr).
  static std::unique_ptr<ServerProcess> Start(
      const std::filesystem::path& data_dir,
      std::chrono::milliseconds timeout = std::chrono::milliseconds(10000));
  // The same with `--config CONFIG` (no option when empty).
  static std::unique_ptr<ServerProcess> Start(
      const std::filesystem::path& data_dir, const std::filesystem::path& config,
      std::chrono::milliseconds timeout = std::chrono::milliseconds(10000));
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }
  // True while the child has not exited (it is reaped here if it has).
  bool Running();
  // SIGTERM, then waits; returns the exit code as in CommandResult. Idempotent.
  int Stop(std::chrono::milliseconds grace = std::chrono::milliseconds(5000));
  // Everything the child wrote to stderr so far.
  std::string Stderr() const;

 private:
  ServerProcess() = default;
  void Drain(int out_fd, int err_fd);

  pid_t pid_ = -1;
  uint16_t port_ = 0;
  std::mutex process_mutex_;  // guards exit_code_
  std::optional<int> exit_code_;
  std::thread drainer_;
  mutable std::mutex mutex_;  // guards the output below
  std::condition_variable output_changed_;
  std::string out_;
  std::string err_;
  bool streams_closed_ = false;
};

}  // namespace hubmirror::testing
