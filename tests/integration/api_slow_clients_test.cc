// Slow clients: 1,100 connections from 127.0.0.2, each sending half a request header and then a
// byte every couple of seconds, against `serve` with its default limits. They must not lock out
// 127.0.0.1: one address holds at most its share of the connections (the rest are closed at
// once), and the connections it holds are cut by the header deadline although bytes keep coming.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "tests/integration/api_fixture.h"

namespace hubmirror::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr size_t kSlowConnections = 1100;
constexpr const char* kSlowAddress = "127.0.0.2";
constexpr std::string_view kHalfHeader = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
constexpr seconds kTrickleInterval(2);
// `serve`'s defaults, checked as they ship: --max-connections-per-address, the header deadline.
constexpr size_t kConnectionsPerAddress = 64;
constexpr seconds kHeaderTimeout(10);
// A connection closed sooner than this after it was opened counts as refused, not held.
constexpr seconds kRefusedWithin(3);

// Lets this process hold every slow connection besides its own files: the soft limit is often
// 1024.
void RaiseFileLimit(rlim_t needed) {
  rlimit limit{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &limit) == 0);
  if (limit.rlim_cur < needed && limit.rlim_max >= needed) {
    limit.rlim_cur = needed;
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &limit) == 0);
  }
  INFO("open files allowed (ulimit -n): " << limit.rlim_cur << ", hard limit " << limit.rlim_max);
  REQUIRE(limit.rlim_cur >= needed);
}

// A TCP connection from `source` (an address of the loopback interface) to 127.0.0.1:port,
// non-blocking once connected.
int ConnectFrom(const char* source, uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_in local{};
  local.sin_family = AF_INET;
  ::inet_pton(AF_INET, source, &local.sin_addr);
  sockaddr_in server{};
  server.sin_family = AF_INET;
  server.sin_port = htons(port);
  server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&server), sizeof server) != 0) {
    int error = errno;
    ::close(fd);
    throw std::runtime_error(std::string("connect from ") + source + ": " + std::strerror(error));
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

// Reads what is there; false once the peer has closed the connection.
bool StillOpen(int fd) {
  char buffer[4096];
  ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
  return n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR));
}

// Sends a whole request from `source` and returns everything the server answers until it
// closes the connection (or `timeout` passes).
std::string ExchangeFrom(const char* source, uint16_t port, std::string_view request,
                         milliseconds timeout = milliseconds(10000)) {
  int fd = ConnectFrom(source, port);
  ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string answer;
  auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    pollfd ready{fd, POLLIN, 0};
    ::poll(&ready, 1, 100);
    char buffer[4096];
    ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) break;
    if (n > 0) answer.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  return answer;
}

// One slow connection: when it was opened, and when the server closed it.
struct SlowConnection {
  int fd = -1;
  Clock::time_point opened;
  std::optional<Clock::time_point> closed;
};

// Trickles one more header byte every kTrickleInterval into each connection the server keeps
// open and records when the server closes each, until all are closed or `give_up`. `open`
// counts those not closed yet.
void TrickleUntilClosed(std::vector<SlowConnection>& connections, std::atomic<size_t>& open,
                        Clock::time_point give_up) {
  auto next_trickle = Clock::now() + kTrickleInterval;
  std::vector<pollfd> fds;
  std::vector<SlowConnection*> polled;
  while (open.load() > 0 && Clock::now() < give_up) {
    fds.clear();
    polled.clear();
    for (auto& connection : connections) {
      if (connection.closed) continue;
      fds.push_back({connection.fd, POLLIN, 0});
      polled.push_back(&connection);
    }
    ::poll(fds.data(), fds.size(), 100);
    auto now = Clock::now();
    bool trickle = now >= next_trickle;
    if (trickle) next_trickle += kTrickleInterval;
    for (size_t i = 0; i < fds.size(); ++i) {
      SlowConnection& connection = *polled[i];
      bool open_still = fds[i].revents == 0 || StillOpen(connection.fd);
      if (open_still && trickle) open_still = ::send(connection.fd, "a", 1, MSG_NOSIGNAL) == 1;
      if (open_still) continue;
      connection.closed = now;
      ::close(connection.fd);
      --open;
    }
  }
}

// What 127.0.0.1 got while the slow connections were held.
struct Round {
  size_t slow_open_before = 0;
  size_t slow_open_after = 0;
  int health_status = 0;
  int info_status = 0;
  std::string info_id;
  std::string failure;
};

TEST_CASE("Slow connections from one address never lock out another", "[http][slow_clients]") {
  World& world = Shared();
  RaiseFileLimit(kSlowConnections + 256);
  const uint16_t port = world.server->port();

  std::vector<SlowConnection> slow(kSlowConnections);
  for (auto& connection : slow) {
    connection.fd = ConnectFrom(kSlowAddress, port);
    connection.opened = Clock::now();
    // Refused connections may be closed already; the trickle notices.
    ::send(connection.fd, kHalfHeader.data(), kHalfHeader.size(), MSG_NOSIGNAL);
  }
  const Clock::time_point start = slow.front().opened;
  std::atomic<size_t> open{kSlowConnections};
  std::thread trickler(
      [&] { TrickleUntilClosed(slow, open, start + kHeaderTimeout + seconds(20)); });

  // Rounds of requests from 127.0.0.1, two seconds apart, all before the header deadline.
  std::vector<Round> rounds(4);
  for (size_t i = 0; i < rounds.size(); ++i) {
    std::this_thread::sleep_until(start + milliseconds(1500) + seconds(2 * i));
    Round& round = rounds[i];
    round.slow_open_before = open.load();
    try {
      round.health_status = world.http().Get("/healthz").status;
      auto info = world.http().Get(std::string("/api/models/") + kModel);
      round.info_status = info.status;
      round.info_id = nlohmann::json::parse(info.body).value("id", "");
    } catch (const std::exception& e) {
      round.failure = e.what();
    }
    round.slow_open_after = open.load();
  }
  trickler.join();

  for (size_t i = 0; i < rounds.size(); ++i) {
    INFO("round " << i << " at " << 1.5 + 2.0 * static_cast<double>(i) << " s");
    const Round& round = rounds[i];
    CHECK(round.failure.empty());
    CHECK(round.health_status == 200);
    CHECK(round.info_status == 200);
    CHECK(round.info_id == kModel);
    // The slow connections held all the server would give their address throughout.
    CHECK(round.slow_open_before == kConnectionsPerAddress);
    CHECK(round.slow_open_after == kConnectionsPerAddress);
  }

  REQUIRE(open.load() == 0);
  size_t refused = 0;
  std::vector<Clock::duration> held;
  for (const auto& connection : slow) {
    Clock::duration lasted = *connection.closed - connection.opened;
    if (lasted < kRefusedWithin) {
      ++refused;
    } else {
      held.push_back(lasted);
    }
  }
  CHECK(refused == kSlowConnections - kConnectionsPerAddress);
  REQUIRE(held.size() == kConnectionsPerAddress);
  // Cut by the header deadline, not earlier, and long before the 60 s idle timeout, although a
  // byte came every two seconds.
  auto [shortest, longest] = std::minmax_element(held.begin(), held.end());
  CHECK(*shortest >= kHeaderTimeout - milliseconds(500));
  CHECK(*longest <= kHeaderTimeout + seconds(5));

  // The refusals are logged, and the slow address is served again once its connections closed.
  std::string log = world.server->Stderr();
  CHECK(log.find("over the connection limits") != std::string::npos);
  CHECK(log.find(std::string("the latest from ") + kSlowAddress) != std::string::npos);
  std::string answer = ExchangeFrom(kSlowAddress, port,
                                    "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                    "Connection: close\r\n\r\n");
  CHECK(StartsWith(answer, "HTTP/1.1 200 OK\r\n"));
  CheckHealthy(world);
}

}  // namespace
}  // namespace hubmirror::testing
