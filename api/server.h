#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/signing.h"
#include "common/status.h"
#include "registry/lineage_index.h"
#include "storage/blob_store.h"

namespace hubmirror::api {

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;  // 0 picks a free port
  std::filesystem::path registry_path;
  unsigned threads = 0;  // 0: one per core
  size_t max_connections = 1024;
  size_t max_header_bytes = 16 * 1024;
  size_t max_body_bytes = 1024 * 1024;
  std::chrono::seconds idle_timeout{60};
  // Whole files smaller than this are hashed as they are sent and cut short if they do not
  // match their digest (--verify-on-read raises it to every size).
  uint64_t verify_below_bytes = 16u << 20;
  std::shared_ptr<const SigningKey> signing_key;  // required: signs integrity manifests
};

// "host:port" of an endpoint, with IPv6 addresses in brackets ("[::1]:8080").
std::string HostPort(const boost::asio::ip::tcp::endpoint& endpoint);

// The HTTP server: one acceptor plus one coroutine per connection. Each worker thread runs its
// own single-threaded io_context (no scheduler lock shared between cores) and keeps its own
// read-only registry connection; accepted connections are spread over the workers round-robin.
// Every read is bounded (header size, body size, idle time) and the number of open connections
// is capped. Run blocks until SIGINT/SIGTERM or Stop; Stop is thread-safe.
class Server {
 public:
  // Binds and listens. kInvalidArgument for a bad address, kIoError when the port is taken.
  static Result<std::unique_ptr<Server>> Create(ServerOptions options, storage::BlobStore& store);
  ~Server();

  // The bound address (useful with port 0).
  boost::asio::ip::tcp::endpoint endpoint() const;
  void Run();
  void Stop();

 private:
  Server(ServerOptions options, storage::BlobStore& store);
  boost::asio::awaitable<void> Accept();
  boost::asio::awaitable<void> Session(boost::asio::ip::tcp::socket socket);

  ServerOptions options_;
  storage::BlobStore& store_;
  // Shared by the workers' registry connections: large lineage walks run in memory.
  std::shared_ptr<registry::LineageIndexCache> lineage_index_;
  std::vector<std::unique_ptr<boost::asio::io_context>> workers_;
  size_t next_worker_ = 0;  // used by the accept loop only
  boost::asio::ip::tcp::acceptor acceptor_;
  std::atomic<size_t> connections_{0};
};

}  // namespace hubmirror::api
