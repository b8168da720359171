#include "tests/integration/http_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace hubmirror::testing {
namespace {

namespace http = boost::beast::http;
using Clock = std::chrono::steady_clock;

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
           return lower(x) == lower(y);
         });
}

bool HasHeader(const HeaderList& headers, std::string_view name) {
  return std::any_of(headers.begin(), headers.end(),
                     [&](const auto& header) { return EqualsIgnoreCase(header.first, name); });
}

[[noreturn]] void Fail(const std::string& what) {
  throw std::runtime_error("http client: " + what);
}

// A connected TCP socket to 127.0.0.1 with every wait bounded by one deadline.
class Connection {
 public:
  Connection(uint16_t port, Clock::time_point deadline) : deadline_(deadline) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) Fail(std::string("socket: ") + std::strerror(errno));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
      int error = errno;
      ::close(fd_);
      Fail("connect to 127.0.0.1:" + std::to_string(port) + ": " + std::strerror(error));
    }
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
  }
  ~Connection() { ::close(fd_); }

  // Makes the close send a reset instead of a FIN, discarding anything unread.
  void ResetOnClose() {
    linger option{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &option, sizeof(option));
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Writes as much of `bytes` as the server accepts. Stops early, without error, when the server
  // has already answered or closed (it may reject a request before reading all of it: 413, 431).
  void WriteAll(std::string_view bytes) {
    while (!bytes.empty()) {
      pollfd p{fd_, POLLIN | POLLOUT, 0};
      if (Poll(&p) == 0) Fail("timed out writing the request");
      if (p.revents & (POLLIN | POLLHUP | POLLERR)) return;
      ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n < 0) return;  // EPIPE / ECONNRESET: read whatever answer arrived
      bytes.remove_prefix(static_cast<size_t>(n));
    }
  }

  // Appends what arrives to `out`; returns false at end of stream. A reset counts as the end of
  // the stream: a server that closes with unread request bytes resets the connection.
  bool ReadSome(boost::beast::flat_buffer& out) {
    while (true) {
      pollfd p{fd_, POLLIN, 0};
      if (Poll(&p) == 0) Fail("timed out waiting for the response");
      auto buffer = out.prepare(64 * 1024);
      ssize_t n = ::recv(fd_, buffer.data(), buffer.size(), 0);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n < 0 && errno == ECONNRESET) return false;
      if (n < 0) Fail(std::string("recv: ") + std::strerror(errno));
      if (n == 0) return false;
      out.commit(static_cast<size_t>(n));
      return true;
    }
  }

 private:
  int Poll(pollfd* p) {
    while (true) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now());
      if (left.count() <= 0) return 0;
      int ready = ::poll(p, 1, static_cast<int>(left.count()));
      if (ready < 0 && errno == EINTR) continue;
      if (ready < 0) Fail(std::string("poll: ") + std::strerror(errno));
      return ready;
    }
  }

  int fd_ = -1;
  Clock::time_point deadline_;
};

std::string ToString(boost::beast::string_view text) {
  return std::string(text.data(), text.size());
}

HttpResponse ReadResponse(Connection& connection, bool head_response) {
  http::response_parser<http::string_body> parser;
  parser.header_limit(1u << 20);
  parser.body_limit(1ull << 30);
  parser.eager(true);
  parser.skip(head_response);
  boost::beast::flat_buffer buffer;
  boost::beast::error_code ec;
  while (!parser.is_done()) {
    if (buffer.size() > 0) {
      size_t used = parser.put(buffer.data(), ec);
      buffer.consume(used);
      if (ec == http::error::need_more) {
        ec = {};
      } else if (ec) {
        Fail("unparsable response: " + ec.message());
      }
      if (parser.is_done()) break;
      if (used > 0) continue;
    }
    if (!connection.ReadSome(buffer)) {
      parser.put_eof(ec);
      if (ec) Fail("connection closed before the response was complete: " + ec.message());
      break;
    }
  }
  HttpResponse response;
  auto& message = parser.get();
  response.status = static_cast<int>(message.result_int());
  response.reason = ToString(message.reason());
  for (const auto& field : message) {
    response.headers.emplace_back(ToString(field.name_string()), ToString(field.value()));
  }
  response.body = std::move(message.body());
  // The request asked the server to close; anything before the close is a framing error.
  size_t extra = buffer.size();
  buffer.consume(buffer.size());
  while (connection.ReadSome(buffer)) {
    extra += buffer.size();
    buffer.consume(buffer.size());
  }
  response.bytes_after_message = extra;
  return response;
}

}  // namespace

bool HttpResponse::Has(std::string_view name) const { return HasHeader(headers, name); }

std::optional<std::string> HttpResponse::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (EqualsIgnoreCase(key, name)) return value;
  }
  return std::nullopt;
}

std::string HttpResponse::HeaderOr(std::string_view name, std::string_view fallback) const {
  auto value = Header(name);
  return value ? *value : std::string(fallback);
}

std::vector<std::string> HttpResponse::HeaderValues(std::string_view name) const {
  std::vector<std::string> values;
  for (const auto& [key, value] : headers) {
    if (EqualsIgnoreCase(key, name)) values.push_back(value);
  }
  return values;
}

HttpClient::HttpClient(uint16_t port, std::chrono::milliseconds timeout)
    : port_(port), timeout_(timeout) {}

std::string HttpClient::origin() const { return "http://127.0.0.1:" + std::to_string(port_); }

HttpResponse HttpClient::Send(const HttpRequest& request) const {
  std::string bytes = request.method + " " + request.target + " HTTP/1.1\r\n";
  auto add = [&](std::string_view name, std::string_view value) {
    bytes.append(name).append(": ").append(value).append("\r\n");
  };
  if (!HasHeader(request.headers, "Host")) add("Host", "127.0.0.1:" + std::to_string(port_));
  for (const auto& [name, value] : request.headers) add(name, value);
  if (!HasHeader(request.headers, "Connection")) add("Connection", "close");
  bool wants_length = !request.body.empty() || request.method == "POST" || request.method == "PUT";
  if (wants_length && !HasHeader(request.headers, "Content-Length") &&
      !HasHeader(request.headers, "Transfer-Encoding")) {
    add("Content-Length", std::to_string(request.body.size()));
  }
  bytes += "\r\n";
  bytes += request.body;
  return SendRaw(bytes, request.method == "HEAD");
}

HttpResponse HttpClient::Get(const std::string& target, const HeaderList& headers) const {
  return Send(HttpRequest{"GET", target, headers, ""});
}

HttpResponse HttpClient::Head(const std::string& target, const HeaderList& headers) const {
  return Send(HttpRequest{"HEAD", target, headers, ""});
}

HttpResponse HttpClient::Post(const std::string& target, const std::string& content_type,
                              const std::string& body) const {
  return Send(HttpRequest{"POST", target, {{"Content-Type", content_type}}, body});
}

HttpResponse HttpClient::SendRaw(std::string_view bytes, bool head_response) const {
  Connection connection(port_, Clock::now() + timeout_);
  connection.WriteAll(bytes);
  return ReadResponse(connection, head_response);
}

std::string HttpClient::Exchange(std::string_view bytes) const {
  Connection connection(port_, Clock::now() + timeout_);
  connection.WriteAll(bytes);
  boost::beast::flat_buffer buffer;
  while (connection.ReadSome(buffer)) {
  }
  auto data = buffer.data();
  return std::string(static_cast<const char*>(data.data()), data.size());
}

void HttpClient::SendAndHangUp(std::string_view bytes, size_t read_bytes) const {
  Connection connection(port_, Clock::now() + timeout_);
  connection.WriteAll(bytes);
  boost::beast::flat_buffer buffer;
  while (buffer.size() < read_bytes && connection.ReadSome(buffer)) {
  }
  connection.ResetOnClose();
}

}  // namespace hubmirror::testing
