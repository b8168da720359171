#pragma once

#include <array>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "api/handler_support.h"
#include "api/metrics.h"
#include "api/pull_through.h"
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
  // What one client address may hold at once (0: no limit), so that one address cannot take
  // every connection; see ConnectionLimiter.
  size_t max_connections_per_address = 64;
  size_t max_requests_per_address = 32;
  size_t max_header_bytes = 16 * 1024;
  size_t max_body_bytes = 1024 * 1024;
  // Allowed between requests on a connection, and for a request's body.
  std::chrono::seconds idle_timeout{60};
  // Allowed from the first byte of a request to the end of its header, however steadily the
  // bytes come: a real client sends a header at once, and a connection must not be held open
  // by a header trickled a byte at a time.
  std::chrono::seconds header_timeout{10};
  // Whole files smaller than this are hashed as they are sent and cut short if they do not
  // match their digest (--verify-on-read raises it to every size).
  uint64_t verify_below_bytes = 16u << 20;
  std::shared_ptr<const SigningKey> signing_key;  // required: signs integrity manifests
  // Tokens, visibility and gating, and the writes requests make (access requests, settings, the
  // audit log). Null: the default policy, and those writes answer 503.
  std::shared_ptr<class AccessServices> access;
  // Fetches what the registry lacks from an upstream when clients ask (null: the mirror serves
  // only what it holds).
  std::shared_ptr<PullThrough> pull_through;
  // Samples of the daemon's background jobs (gc, scrub, sync) for /metrics; may be empty.
  std::function<std::vector<MetricSample>()> job_samples;
  // The daemon's jobs and config, for /api/admin/jobs and /api/admin/config (null: they answer
  // 503).
  std::shared_ptr<JobControl> jobs;
  // Publishing with the Hub's clients (null: writes answer 503).
  std::shared_ptr<Publisher> publisher;
  // The web UI at `/` and `/-/` (null: those addresses answer 404).
  std::shared_ptr<class WebPages> pages;
  // A commit's NDJSON carries its regular files inline, base64: it may be larger than other
  // bodies (the official client caps a commit's inline content at 100 MiB).
  size_t max_commit_body_bytes = 160u << 20;
};

// "host:port" of an endpoint, with IPv6 addresses in brackets ("[::1]:8080").
std::string HostPort(const boost::asio::ip::tcp::endpoint& endpoint);

// Counts the connections and requests in flight of each client address and decides who may open
// more, so that no address can lock out another. An address may hold at most its per-address
// limits; and once the server is nearly full (past 3/4 of its connections), each address may hold
// fewer the fuller it gets, so the addresses holding the most are refused first and the last free
// connection still goes to an address that holds none. IPv6 clients are counted by their /64
// prefix, the block one subscriber usually has. Thread-safe: connections are admitted on the
// accepting thread and released on the workers.
class ConnectionLimiter {
  using Key = std::array<uint8_t, 16>;
  struct Address;

 public:
  // One admitted connection: releases its connection slot, and its request slot if it holds one,
  // when destroyed. Used by one session (one thread) at a time.
  class Lease {
   public:
    ~Lease();
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;

   private:
    friend class ConnectionLimiter;
    enum class Request { kNone, kWaiting, kRunning };
    Lease(ConnectionLimiter& limiter, Address& address) : limiter_(limiter), address_(address) {}

    ConnectionLimiter& limiter_;
    Address& address_;
    Request request_ = Request::kNone;  // guarded by limiter_.mutex_
    std::function<void()> wake_;        // guarded by limiter_.mutex_
  };

  // Limits as in ServerOptions; 0 lifts a per-address limit (and, for connections, the shrinking
  // share near the global limit).
  ConnectionLimiter(size_t max_connections, size_t max_connections_per_address,
                    size_t max_requests_per_address);

  // A lease for a new connection from `address`; nullptr (and the refusal counted) when the
  // server is full or the address holds all it may.
  std::unique_ptr<Lease> Admit(const boost::asio::ip::address& address);

  // Starts a request on the lease's connection and returns true when its address has a request
  // slot free. Otherwise returns false and, if `wake` is given, queues the request: `wake` is
  // called later, on the thread that frees a slot, once the request holds it. At most one
  // request per lease.
  bool StartRequest(Lease& lease, std::function<void()> wake = {});
  // Gives up a queued request: true when it was still waiting (it holds nothing now), false when
  // it was granted meanwhile (it holds its slot, and its `wake` call may still come).
  bool StopWaiting(Lease& lease);
  void FinishRequest(Lease& lease);
  // From now on a freed request slot wakes no one: for shutdown, when the sessions' executors may
  // be gone already.
  void StopWaking();

  size_t connections() const;
  size_t refused() const;

 private:
  // The connections and requests of one address, and its requests waiting for a slot in order.
  struct Address {
    explicit Address(const Key& address_key) : key(address_key) {}

    Key key;
    size_t connections = 0;
    size_t requests = 0;
    std::deque<Lease*> waiting;
  };
  struct KeyHash {
    size_t operator()(const Key& key) const;
  };
  static Key KeyOf(const boost::asio::ip::address& address);
  bool MayConnect(size_t held) const;
  void FinishRequestLocked(Lease& lease, std::function<void()>* wake);
  void Release(Lease& lease);

  const size_t max_connections_;
  const size_t max_connections_per_address_;
  const size_t max_requests_per_address_;
  mutable std::mutex mutex_;
  size_t connections_ = 0;
  size_t refused_ = 0;
  bool waking_ = true;
  std::unordered_map<Key, Address, KeyHash> addresses_;
};

// The HTTP server: one acceptor plus one coroutine per connection. Each worker thread runs its
// own single-threaded io_context (no scheduler lock shared between cores) and keeps its own
// read-only registry connection; accepted connections are spread over the workers round-robin.
// Every read is bounded (header size and time, body size, idle time) and the connections and
// requests each client address may hold are capped (ConnectionLimiter). Run blocks until
// SIGINT/SIGTERM or Stop; Stop is thread-safe.
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
  boost::asio::awaitable<void> Session(boost::asio::ip::tcp::socket socket,
                                       std::unique_ptr<ConnectionLimiter::Lease> lease);
  // The registry connection of this thread, then Dispatch. `fetched`: see DispatchEnvironment.
  Response Serve(const Request& request, const boost::asio::ip::tcp::endpoint& local,
                 const std::string& client, const Status* fetched);
  // The server's own /metrics samples: connections, and the background jobs'.
  std::vector<MetricSample> ServerSamples() const;
  // Logs refused connections, at most once per kRefusalLogInterval. Accept loop only.
  void ReportRefusal(const boost::asio::ip::address& address);

  static constexpr size_t kFetchThreads = 16;

  ServerOptions options_;
  storage::BlobStore& store_;
  // Shared by the workers' registry connections: large lineage walks run in memory.
  std::shared_ptr<registry::LineageIndexCache> lineage_index_;
  // Outlives the workers: sessions they still hold when destroyed release their leases.
  ConnectionLimiter limiter_;
  RequestMetrics metrics_;
  std::vector<std::unique_ptr<boost::asio::io_context>> workers_;
  // Where requests wait for the upstream (pull-through), off the workers' threads; blocking
  // calls, so more threads than cores.
  boost::asio::thread_pool fetch_pool_{kFetchThreads};
  size_t next_worker_ = 0;  // used by the accept loop only
  boost::asio::ip::tcp::acceptor acceptor_;
  std::chrono::steady_clock::time_point last_refusal_report_;  // accept loop only
  size_t refusals_reported_ = 0;                               // accept loop only
};

}  // namespace hubmirror::api
