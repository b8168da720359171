#include "tests/integration/server_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#ifndef HUBMIRROR_BINARY
#error "HUBMIRROR_BINARY must be defined by the build (the path of the hubmirror executable)"
#endif

namespace hubmirror::testing {
namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void Fail(const std::string& what) {
  throw std::runtime_error("hubmirror process: " + what + ": " + std::strerror(errno));
}

int DecodeWaitStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return -WTERMSIG(status);
  return -1;
}

struct Child {
  pid_t pid = -1;
  int out_fd = -1;
  int err_fd = -1;
};

// Starts the binary with `args`, stdin on /dev/null, stdout and stderr on fresh pipes.
Child Spawn(const std::vector<std::string>& args) {
  std::string binary = HubmirrorBinary().string();
  std::vector<std::string> argv_storage = {binary};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& arg : argv_storage) argv.push_back(arg.data());
  argv.push_back(nullptr);

  int out_pipe[2];
  int err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) Fail("pipe");
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) Fail("pipe");
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd < 0) Fail("open /dev/null");
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) Fail("fork");
  if (pid == 0) {
    // Only async-signal-safe calls from here on. The child must not outlive a crashed test.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(126);
    if (::dup2(null_fd, STDIN_FILENO) < 0 || ::dup2(out_pipe[1], STDOUT_FILENO) < 0 ||
        ::dup2(err_pipe[1], STDERR_FILENO) < 0) {
      ::_exit(126);
    }
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(null_fd);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  return Child{pid, out_pipe[0], err_pipe[0]};
}

// Reads whatever is available on fd into `out`; returns false at end of file.
bool ReadInto(int fd, std::string& out) {
  char buffer[16384];
  while (true) {
    ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    out.append(buffer, static_cast<size_t>(n));
    return true;
  }
}

}  // namespace

std::filesystem::path HubmirrorBinary() { return HUBMIRROR_BINARY; }

CommandResult RunHubmirror(const std::vector<std::string>& args, std::chrono::seconds timeout) {
  Child child = Spawn(args);
  CommandResult result;
  auto deadline = Clock::now() + timeout;
  bool out_open = true;
  bool err_open = true;
  bool killed = false;
  while (out_open || err_open) {
    pollfd fds[2] = {{out_open ? child.out_fd : -1, POLLIN, 0},
                     {err_open ? child.err_fd : -1, POLLIN, 0}};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    int ready = left.count() > 0 ? ::poll(fds, 2, static_cast<int>(left.count())) : 0;
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) {
      ::kill(child.pid, SIGKILL);
      killed = true;
      break;
    }
    if (out_open && fds[0].revents != 0) out_open = ReadInto(child.out_fd, result.out);
    if (err_open && fds[1].revents != 0) err_open = ReadInto(child.err_fd, result.err);
  }
  ::close(child.out_fd);
  ::close(child.err_fd);
  int status = 0;
  while (::waitpid(child.pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = DecodeWaitStatus(status);
  if (killed) result.err += "\n[killed after " + std::to_string(timeout.count()) + " s]";
  return result;
}

CommandResult ImportFolder(const std::filesystem::path& data_dir, const std::string& repo,
                           const std::filesystem::path& source, const std::string& type,
                           const std::string& branch) {
  std::vector<std::string> args = {"import", "--data", data_dir.string(), "--repo", repo};
  if (!type.empty()) args.insert(args.end(), {"--type", type});
  if (!branch.empty()) args.insert(args.end(), {"--branch", branch});
  args.push_back(source.string());
  return RunHubmirror(args);
}

std::unique_ptr<ServerProcess> ServerProcess::Start(const std::filesystem::path& data_dir,
                                                    std::chrono::milliseconds timeout) {
  return Start(data_dir, "", timeout);
}

std::unique_ptr<ServerProcess> ServerProcess::Start(const std::filesystem::path& data_dir,
                                                    const std::filesystem::path& config,
                                                    std::chrono::milliseconds timeout) {
  std::vector<std::string> args = {"serve", "--data", data_dir.string(), "--listen", "127.0.0.1:0"};
  if (!config.empty()) {
    args.push_back("--config");
    args.push_back(config.string());
  }
  Child child = Spawn(args);
  std::unique_ptr<ServerProcess> server(new ServerProcess());
  server->pid_ = child.pid;
  server->drainer_ =
      std::thread([raw = server.get(), child] { raw->Drain(child.out_fd, child.err_fd); });

  constexpr std::string_view kPrefix = "listening on http://127.0.0.1:";
  std::unique_lock<std::mutex> lock(server->mutex_);
  std::optional<uint16_t> port;
  server->output_changed_.wait_for(lock, timeout, [&] {
    size_t at = server->out_.find(kPrefix);
    size_t end = at == std::string::npos ? at : server->out_.find('\n', at);
    if (end != std::string::npos) {
      std::string digits = server->out_.substr(at + kPrefix.size(), end - at - kPrefix.size());
      unsigned long value = std::strtoul(digits.c_str(), nullptr, 10);
      if (value > 0 && value < 65536) port = static_cast<uint16_t>(value);
      return true;
    }
    return server->streams_closed_;
  });
  std::string out = server->out_;
  std::string err = server->err_;
  lock.unlock();
  if (!port) {
    server->Stop();  // the destructor then only joins
    throw std::runtime_error("hubmirror serve did not report a 127.0.0.1 address; stdout: '" + out +
                             "', stderr: '" + err + "'");
  }
  server->port_ = *port;
  return server;
}

void ServerProcess::Drain(int out_fd, int err_fd) {
  bool out_open = true;
  bool err_open = true;
  while (out_open || err_open) {
    pollfd fds[2] = {{out_open ? out_fd : -1, POLLIN, 0}, {err_open ? err_fd : -1, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    std::string out_chunk;
    std::string err_chunk;
    if (out_open && fds[0].revents != 0) out_open = ReadInto(out_fd, out_chunk);
    if (err_open && fds[1].revents != 0) err_open = ReadInto(err_fd, err_chunk);
    std::lock_guard<std::mutex> lock(mutex_);
    out_ += out_chunk;
    err_ += err_chunk;
    output_changed_.notify_all();
  }
  ::close(out_fd);
  ::close(err_fd);
  std::lock_guard<std::mutex> lock(mutex_);
  streams_closed_ = true;
  output_changed_.notify_all();
}

bool ServerProcess::Running() {
  std::lock_guard<std::mutex> lock(process_mutex_);
  if (exit_code_) return false;
  int status = 0;
  pid_t done = ::waitpid(pid_, &status, WNOHANG);
  if (done == pid_) {
    exit_code_ = DecodeWaitStatus(status);
    return false;
  }
  return done == 0;
}

int ServerProcess::Stop(std::chrono::milliseconds grace) {
  {
    // Not mutex_: the drainer needs that one to keep the child's pipes flowing meanwhile.
    std::lock_guard<std::mutex> lock(process_mutex_);
    if (!exit_code_) {
      ::kill(pid_, SIGTERM);
      auto deadline = Clock::now() + grace;
      int status = 0;
      pid_t done = 0;
      while ((done = ::waitpid(pid_, &status, WNOHANG)) == 0 && Clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      if (done == 0) {
        ::kill(pid_, SIGKILL);
        while ((done = ::waitpid(pid_, &status, 0)) < 0 && errno == EINTR) {
        }
      }
      exit_code_ = done == pid_ ? DecodeWaitStatus(status) : -1;
    }
  }
  if (drainer_.joinable()) drainer_.join();
  return *exit_code_;
}

std::string ServerProcess::Stderr() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return err_;
}

ServerProcess::~ServerProcess() { Stop(); }

}  // namespace hubmirror::testing
