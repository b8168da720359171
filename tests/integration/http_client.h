#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hubmirror::testing {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// One parsed HTTP response. Header names are looked up case-insensitively. Value type.
struct HttpResponse {
  int status = 0;
  std::string reason;
  HeaderList headers;  // in the order received, names as sent
  std::string body;
  // Bytes the server sent after the end of this message before closing the connection. Always
  // 0 for a correct server: a HEAD answer has no body and a GET body is exactly Content-Length.
  size_t bytes_after_message = 0;

  bool Has(std::string_view name) const;
  // The first value of `name`, or nullopt.
  std::optional<std::string> Header(std::string_view name) const;
  // The first value of `name`, or "" (convenient in assertions).
  std::string HeaderOr(std::string_view name, std::string_view fallback = "") const;
  std::vector<std::string> HeaderValues(std::string_view name) const;
};

struct HttpRequest {
  std::string method = "GET";
  std::string target = "/";  // sent byte for byte: no encoding, no normalisation
  HeaderList headers;
  std::string body;
};

// A minimal blocking HTTP/1.1 client for tests, talking to 127.0.0.1:port. Each call opens its
// own TCP connection, writes the request exactly as given (so tests can send dot segments, bad
// escapes, control bytes and over-long targets), reads one response with Beast's parser, then
// reads on until the server closes. Every wait is bounded by the timeout; failures to connect,
// time-outs and unparsable responses throw std::runtime_error. Stateless after construction, so
// one instance may be used from several threads.
class HttpClient {
 public:
  explicit HttpClient(uint16_t port,
                      std::chrono::milliseconds timeout = std::chrono::milliseconds(10000));

  uint16_t port() const { return port_; }
  // "http://127.0.0.1:PORT", the origin absolute Link URLs must start with.
  std::string origin() const;

  // Adds `Host: 127.0.0.1:PORT` and `Connection: close` unless the request sets them, and
  // `Content-Length` when there is a body (or the method is POST/PUT) unless the request sets it
  // or `Transfer-Encoding`.
  HttpResponse Send(const HttpRequest& request) const;
  HttpResponse Get(const std::string& target, const HeaderList& headers = {}) const;
  HttpResponse Head(const std::string& target, const HeaderList& headers = {}) const;
  HttpResponse Post(const std::string& target, const std::string& content_type,
                    const std::string& body) const;

  // Writes `bytes` as they are and parses one response (as the answer to a HEAD when
  // `head_response`). For requests that are not well-formed HTTP at all.
  HttpResponse SendRaw(std::string_view bytes, bool head_response = false) const;
  // Writes `bytes` and returns everything the server sends until it closes the connection.
  std::string Exchange(std::string_view bytes) const;
  // Writes `bytes`, waits until `read_bytes` bytes of the answer arrived (or the server closed),
  // then resets the connection: a client that goes away mid-request or mid-download.
  void SendAndHangUp(std::string_view bytes, size_t read_bytes) const;

 private:
  uint16_t port_;
  std::chrono::milliseconds timeout_;
};

}  // namespace hubmirror::testing
