#include "api/server.h"

#include <netinet/tcp.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include <array>
#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <csignal>
#include <cstring>
#include <thread>
#include <variant>
#include <vector>

#include "api/access.h"
#include "api/dispatch.h"
#include "api/handler_support.h"
#include "api/request_reading.h"
#include "api/response_head.h"
#include "common/digest.h"
#include "common/files.h"
#include "common/log.h"
#include "registry/registry.h"

namespace hubmirror::api {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;
using namespace net::experimental::awaitable_operators;
constexpr auto kNoThrow = net::as_tuple(net::use_awaitable);

// Each pool thread opens its own registry connection on first use: SQLite connections must not
// be shared between threads, and opening one per request would dominate small requests.
Result<registry::Registry*> ThreadRegistry(
    const std::filesystem::path& path,
    const std::shared_ptr<registry::LineageIndexCache>& lineage_index) {
  thread_local std::filesystem::path opened_path;
  thread_local std::unique_ptr<registry::Registry> registry;
  if (!registry || opened_path != path) {
    auto opened = registry::Registry::Open(path, registry::Registry::Mode::kReadOnly);
    if (!opened.ok()) return opened.status();
    registry = std::move(opened.value());
    registry->UseLineageIndex(lineage_index);
    opened_path = path;
  }
  return registry.get();
}

// The origin the client used to reach us, for absolute Link URLs. Only a syntactically plain
// host[:port] is echoed back, so a hostile Host header cannot inject anything.
std::string RequestOrigin(const Request& request, const tcp::endpoint& local) {
  std::string host(request[http::field::host]);
  bool plain = !host.empty() && host.size() <= 255;
  for (char c : host) {
    plain = plain && (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' ||
                      c == ':' || c == '[' || c == ']');
  }
  if (!plain) host = HostPort(local);
  bool https = request["X-Forwarded-Proto"] == "https";
  return (https ? "https://" : "http://") + host;
}

// One sendfile call moves at most this much (nginx's sendfile_max_chunk default): larger calls
// hold the socket longer and measurably slowed loopback transfers.
constexpr uint64_t kSendfileChunkBytes = 2 << 20;

// Sends `length` bytes of `fd` from `offset` with sendfile, waiting for writability between
// chunks; gives up when the peer has not accepted a byte for `idle`.
net::awaitable<beast::error_code> SendFileBody(tcp::socket& socket, int fd, uint64_t offset,
                                               uint64_t length, std::chrono::seconds idle) {
  socket.native_non_blocking(true);
  auto position = static_cast<off_t>(offset);
  uint64_t remaining = length;
  net::steady_timer timer(socket.get_executor());
  while (remaining > 0) {
    ssize_t sent = ::sendfile(socket.native_handle(), fd, &position,
                              static_cast<size_t>(std::min(remaining, kSendfileChunkBytes)));
    if (sent > 0) {
      remaining -= static_cast<uint64_t>(sent);
      continue;
    }
    if (sent == 0) co_return beast::error_code(net::error::eof);
    if (errno == EINTR) continue;
    if (errno != EAGAIN) co_return beast::error_code(errno, beast::system_category());
    timer.expires_after(idle);
    auto result = co_await (socket.async_wait(tcp::socket::wait_write, kNoThrow) ||
                            timer.async_wait(kNoThrow));
    if (result.index() == 1) co_return beast::error_code(net::error::timed_out);
    if (auto [ec] = std::get<0>(result); ec) co_return ec;
  }
  co_return beast::error_code();
}

// Verified bodies are read, hashed and written in pieces of this size.
constexpr size_t kVerifiedPieceBytes = 256 * 1024;

// Sends a whole file while hashing it, holding its last piece back until the digest is known:
// a corrupt file is cut short (the connection closes), so no client can take it for complete.
net::awaitable<beast::error_code> SendVerifiedFileBody(beast::tcp_stream& stream,
                                                       storage::BlobStore& store,
                                                       const Response& response,
                                                       std::chrono::seconds idle) {
  Hasher hasher(Hasher::Algorithm::kSha256);
  std::vector<char> piece(kVerifiedPieceBytes);
  uint64_t remaining = response.file_length;
  uint64_t offset = response.file_offset;
  while (remaining > 0) {
    size_t size = static_cast<size_t>(std::min<uint64_t>(remaining, piece.size()));
    if (!ReadFullyAt(response.file->fd(), offset, piece.data(), size).ok()) {
      co_return beast::error_code(net::error::broken_pipe);
    }
    hasher.Update(piece.data(), size);
    remaining -= size;
    offset += size;
    if (remaining == 0) {
      std::string actual = hasher.FinishHex();
      if (actual != response.verify_sha256) {
        QuarantineServedBlob(store, response.verify_sha256, response.verify_what, actual);
        co_return beast::error_code(net::error::connection_aborted);
      }
    }
    stream.expires_after(idle);  // each piece gets the idle allowance, as sendfile chunks do
    auto [ec, written] =
        co_await net::async_write(stream, net::buffer(piece.data(), size), kNoThrow);
    if (ec) co_return ec;
  }
  co_return beast::error_code();
}

// Sends bytes [response.file_offset, + file_length) of a fetch in progress as they arrive. The
// stream's last byte goes only once the fetch is done (a whole file: verified), so a client never
// gets bad bytes complete; a failed fetch cuts the connection short.
net::awaitable<beast::error_code> SendStreamBody(beast::tcp_stream& stream,
                                                 const Response& response,
                                                 std::chrono::seconds idle) {
  ContentStream& content = *response.stream;
  auto executor = stream.get_executor();
  uint64_t position = response.file_offset;
  const uint64_t end = response.file_offset + response.file_length;
  uint64_t known_ready = 0;
  while (position < end) {
    // Shared with the wake call, which comes from the fetch's thread.
    auto timer = std::make_shared<net::steady_timer>(executor, idle);
    auto progress = content.Poll(
        known_ready, [executor, timer] { net::post(executor, [timer] { timer->cancel(); }); });
    // Progress reported at once registered no wake call: it is looked at again below.
    bool progressed = progress.ready > known_ready;
    known_ready = progress.ready;
    if (progress.state == ContentStream::State::kFailed) {
      Log(LogLevel::kWarning, "cut a download short: " + content.failure());
      co_return beast::error_code(net::error::connection_aborted);
    }
    uint64_t sendable = progress.state == ContentStream::State::kDone
                            ? content.size()
                            : std::min(progress.ready, content.size() - 1);
    if (sendable > position) {
      uint64_t length = std::min(sendable, end) - position;
      auto ec = co_await SendFileBody(stream.socket(), content.fd(), position, length, idle);
      if (ec) co_return ec;
      position += length;
      continue;
    }
    if (progressed) continue;
    auto [waited] = co_await timer->async_wait(kNoThrow);
    if (!waited) {  // the idle time passed without a byte from the upstream
      Log(LogLevel::kWarning, "cut a download short: no byte from the upstream for " +
                                  std::to_string(idle.count()) + " s");
      co_return beast::error_code(net::error::timed_out);
    }
  }
  co_return beast::error_code();
}

// Waits until a fetch has its first byte or has ended; the failure of one that ended before any
// byte arrived (or had none for `idle`), so that it is answered as an error rather than a 200
// cut short.
net::awaitable<std::optional<Status>> AwaitFirstBytes(ContentStream& content,
                                                      net::any_io_executor executor,
                                                      std::chrono::seconds idle) {
  auto timer = std::make_shared<net::steady_timer>(executor, idle);
  for (;;) {
    auto progress =
        content.Poll(0, [executor, timer] { net::post(executor, [timer] { timer->cancel(); }); });
    // Bytes that arrived make it a download, cut short if they prove wrong, as the client's own
    // check expects; an upstream that sent none is an error the client can read.
    if (progress.ready > 0 || progress.state == ContentStream::State::kDone) {
      co_return std::nullopt;
    }
    if (progress.state == ContentStream::State::kFailed) {
      co_return IoError(content.failure());
    }
    auto [waited] = co_await timer->async_wait(kNoThrow);
    if (!waited) {
      co_return IoError("no byte from the upstream in " + std::to_string(idle.count()) + " s");
    }
    timer->expires_after(idle);
  }
}

// Writes a serialised head and an in-memory body with one system call.
net::awaitable<beast::error_code> WriteHeadAndBody(beast::tcp_stream& stream,
                                                   const std::string& head,
                                                   const std::string& body) {
  std::array<net::const_buffer, 2> buffers = {net::buffer(head), net::buffer(body)};
  auto [ec, written] = co_await net::async_write(stream, buffers, kNoThrow);
  co_return ec;
}

net::awaitable<beast::error_code> WriteResponse(beast::tcp_stream& stream, const Request& request,
                                                Response& response, bool keep_alive,
                                                std::chrono::seconds idle,
                                                storage::BlobStore& store) {
  bool head = request.method() == http::verb::head;
  // RFC 9110 8.6: no Content-Length on 204; on 304 it could only repeat the full size.
  bool bodiless =
      response.status == http::status::not_modified || response.status == http::status::no_content;
  bool file_body = response.file.has_value() || response.stream || response.length_only;
  stream.expires_after(idle);
  uint64_t length = file_body ? response.file_length : response.body.size();
  // The head is written by hand: Beast's serializer cost more than the rest of a small request.
  std::string message = SerializeResponseHead(response, request.version(), keep_alive,
                                              bodiless ? std::nullopt : std::optional(length));
  if (head || file_body || bodiless) {
    // Corked, the header and the first body bytes leave in full-sized segments (as nginx's
    // tcp_nopush does); uncorking flushes the tail.
    // A body that streams as a fetch goes is not corked: its bytes must not wait for more.
    bool corked = file_body && !head && length > 0 && !response.length_only && !response.stream;
    int cork = 1;
    if (corked)
      ::setsockopt(stream.socket().native_handle(), IPPROTO_TCP, TCP_CORK, &cork, sizeof cork);
    auto [ec, written] = co_await net::async_write(stream, net::buffer(message), kNoThrow);
    if (!ec && corked) {
      // Not a conditional expression: GCC 12 evaluates both co_awaits of one.
      if (response.verify_sha256.empty()) {
        ec = co_await SendFileBody(stream.socket(), response.file->fd(), response.file_offset,
                                   length, idle);
      } else {
        ec = co_await SendVerifiedFileBody(stream, store, response, idle);
      }
    }
    if (!ec && !head && response.stream) ec = co_await SendStreamBody(stream, response, idle);
    if (corked) {
      cork = 0;
      ::setsockopt(stream.socket().native_handle(), IPPROTO_TCP, TCP_CORK, &cork, sizeof cork);
    }
    co_return ec;
  }
  co_return co_await WriteHeadAndBody(stream, message, response.body);
}

// Answers a request that could not be read completely, then the connection closes.
net::awaitable<void> WriteReadError(beast::tcp_stream& stream, ApiError error,
                                    const std::string& message) {
  Response response = ErrorResponse(error, message, false);
  co_await WriteHeadAndBody(
      stream, SerializeResponseHead(response, 11, false, response.body.size()), response.body);
}

// Waits until the lease's address has a request slot for this connection's request, for at most
// `patience`; false when none came in time.
net::awaitable<bool> AwaitRequestSlot(ConnectionLimiter& limiter, ConnectionLimiter::Lease& lease,
                                      std::chrono::seconds patience) {
  if (limiter.StartRequest(lease)) co_return true;
  auto executor = co_await net::this_coro::executor;
  // Shared with the wake call, which comes from another thread and may come after the wait
  // ended on its own.
  auto timer = std::make_shared<net::steady_timer>(executor, patience);
  auto wake = [executor, timer] { net::post(executor, [timer] { timer->cancel(); }); };
  if (limiter.StartRequest(lease, wake)) co_return true;
  co_await timer->async_wait(kNoThrow);
  co_return !limiter.StopWaiting(lease);
}

// Refused connections are logged at most this often, so that a flood of them cannot fill the log.
constexpr std::chrono::seconds kRefusalLogInterval{10};

}  // namespace

// Each io_context is run by exactly one thread, so it can skip internal locking.
std::vector<std::unique_ptr<net::io_context>> MakeWorkers(unsigned requested) {
  unsigned count = requested != 0 ? requested : std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::unique_ptr<net::io_context>> workers;
  for (unsigned i = 0; i < count; ++i) workers.push_back(std::make_unique<net::io_context>(1));
  return workers;
}

std::string HostPort(const tcp::endpoint& endpoint) {
  std::string address = endpoint.address().to_string();
  if (endpoint.address().is_v6()) address = "[" + address + "]";
  return address + ":" + std::to_string(endpoint.port());
}

Server::Server(ServerOptions options, storage::BlobStore& store)
    : options_(std::move(options)),
      store_(store),
      lineage_index_(std::make_shared<registry::LineageIndexCache>(options_.registry_path)),
      limiter_(options_.max_connections, options_.max_connections_per_address,
               options_.max_requests_per_address),
      workers_(MakeWorkers(options_.threads)),
      acceptor_(*workers_.front()) {}

// The workers destroy the sessions left when Run returned, one io_context after the other: a
// session that frees a request slot then must not wake one on an io_context that is gone.
Server::~Server() {
  limiter_.StopWaking();
  // Fills call back into the workers' executors as bytes arrive: they end before the workers do.
  if (options_.pull_through) options_.pull_through->Stop();
}

Result<std::unique_ptr<Server>> Server::Create(ServerOptions options, storage::BlobStore& store) {
  beast::error_code ec;
  auto address = net::ip::make_address(options.host, ec);
  if (ec) return InvalidArgument("invalid listen address '" + options.host + "'");
  if (options.signing_key == nullptr) return InvalidArgument("the server needs a signing key");
  std::unique_ptr<Server> server(new Server(std::move(options), store));
  tcp::endpoint endpoint(address, server->options_.port);
  auto& acceptor = server->acceptor_;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return IoError("cannot listen on " + server->options_.host + ":" +
                   std::to_string(server->options_.port) + ": " + ec.message());
  }
  return server;
}

tcp::endpoint Server::endpoint() const { return acceptor_.local_endpoint(); }

void Server::Stop() {
  net::post(*workers_.front(), [this] {
    beast::error_code ignored;
    acceptor_.close(ignored);
    for (auto& worker : workers_) worker->stop();
  });
}

Response Server::Serve(const Request& request, const tcp::endpoint& local,
                       const std::string& client, const Status* fetched) {
  auto registry = ThreadRegistry(options_.registry_path, lineage_index_);
  if (!registry.ok()) Log(LogLevel::kError, "cannot open registry: " + registry.status().message());
  thread_local VerifiedBlobCache verified_blobs;
  DispatchEnvironment environment{registry.ok() ? *registry : nullptr,
                                  store_,
                                  options_.verify_below_bytes,
                                  *options_.signing_key,
                                  RequestOrigin(request, local),
                                  &verified_blobs,
                                  options_.access.get(),
                                  client,
                                  options_.pull_through.get(),
                                  fetched,
                                  &metrics_,
                                  [this] { return ServerSamples(); },
                                  options_.registry_path.parent_path(),
                                  options_.jobs.get(),
                                  options_.publisher.get(),
                                  options_.pages.get()};
  return Dispatch(request, environment);
}

std::vector<MetricSample> Server::ServerSamples() const {
  std::vector<MetricSample> samples = {
      Gauge("hubmirror_http_connections", "Client connections open now.",
            static_cast<double>(limiter_.connections())),
      Counter("hubmirror_http_connections_refused_total",
              "Connections refused over the per-address or global limits.",
              static_cast<double>(limiter_.refused()))};
  registry::LineageIndexCache::Stats lineage = lineage_index_->stats();
  samples.push_back(Gauge("hubmirror_lineage_index_models",
                          "Models in the in-memory lineage index (0 until first built).",
                          static_cast<double>(lineage.models)));
  samples.push_back(Gauge("hubmirror_lineage_index_edges", "Edges in the in-memory lineage index.",
                          static_cast<double>(lineage.edges)));
  samples.push_back(Counter("hubmirror_lineage_index_builds_total",
                            "Times the lineage index was rebuilt after lineage changed.",
                            static_cast<double>(lineage.builds)));
  samples.push_back(Gauge("hubmirror_lineage_index_build_seconds",
                          "How long the last rebuild of the lineage index took.",
                          lineage.last_build_seconds));
  if (options_.job_samples) {
    for (auto& sample : options_.job_samples()) samples.push_back(std::move(sample));
  }
  return samples;
}

void Server::Run() {
  // sendfile() cannot take MSG_NOSIGNAL: without this a client that disconnects mid-body would
  // kill the whole process. Writes then fail with EPIPE, which ends only that session.
  std::signal(SIGPIPE, SIG_IGN);
  net::signal_set signals(*workers_.front(), SIGINT, SIGTERM);
  signals.async_wait([this](const beast::error_code& ec, int) {
    if (!ec) Stop();
  });
  // SIGHUP reloads the config (systemd's ExecReload), as POST /api/admin/config/reload does.
  net::signal_set reloads(*workers_.front());
  std::function<void()> await_reload = [&] {
    reloads.async_wait([&](const beast::error_code& ec, int) {
      if (ec) return;
      if (auto reloaded = options_.jobs->Reload(); !reloaded.ok()) {
        Log(LogLevel::kWarning, "SIGHUP: " + reloaded.status().message());
      }
      await_reload();
    });
  };
  if (options_.jobs) {
    reloads.add(SIGHUP);
    await_reload();
  }
  net::co_spawn(*workers_.front(), Accept(), net::detached);
  std::vector<std::thread> threads;
  for (size_t i = 1; i < workers_.size(); ++i) {
    // Keeps an idle worker running until Stop.
    threads.emplace_back([worker = workers_[i].get()] {
      auto guard = net::make_work_guard(*worker);
      worker->run();
    });
  }
  workers_.front()->run();
  for (auto& thread : threads) thread.join();
}

net::awaitable<void> Server::Accept() {
  while (acceptor_.is_open()) {
    net::io_context& worker = *workers_[next_worker_++ % workers_.size()];
    auto [ec, socket] = co_await acceptor_.async_accept(worker, kNoThrow);
    if (ec == net::error::operation_aborted) co_return;
    if (ec) {
      // Typically EMFILE: back off briefly instead of spinning.
      Log(LogLevel::kWarning, "accept failed: " + ec.message());
      net::steady_timer pause(*workers_.front(), std::chrono::milliseconds(50));
      co_await pause.async_wait(kNoThrow);
      continue;
    }
    beast::error_code peer_error;
    tcp::endpoint peer = socket.remote_endpoint(peer_error);
    auto lease = peer_error ? nullptr : limiter_.Admit(peer.address());
    if (lease == nullptr) {
      if (!peer_error) ReportRefusal(peer.address());
      beast::error_code ignored;
      socket.close(ignored);
      continue;
    }
    auto executor = socket.get_executor();
    net::co_spawn(executor, Session(std::move(socket), std::move(lease)), net::detached);
  }
}

void Server::ReportRefusal(const net::ip::address& address) {
  auto now = std::chrono::steady_clock::now();
  if (now - last_refusal_report_ < kRefusalLogInterval) return;
  size_t refused = limiter_.refused();
  Log(LogLevel::kWarning, "refused " + std::to_string(refused - refusals_reported_) +
                              " connections over the connection limits since the last report (" +
                              std::to_string(refused) + " in all), the latest from " +
                              address.to_string());
  last_refusal_report_ = now;
  refusals_reported_ = refused;
}

net::awaitable<void> Server::Session(tcp::socket socket,
                                     std::unique_ptr<ConnectionLimiter::Lease> lease) {
  beast::error_code ec;
  socket.set_option(tcp::no_delay(true), ec);
  tcp::endpoint local = socket.local_endpoint(ec);
  tcp::endpoint remote = socket.remote_endpoint(ec);
  std::string client = ec ? "" : remote.address().to_string();
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  while (true) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<uint32_t>(options_.max_header_bytes));
    // ReadRequest sets the body's limit once it knows what the request is.
    parser.body_limit(boost::none);
    bool body_left = false;
    auto read_error = co_await ReadRequest(stream, buffer, parser, options_, &body_left);
    if (read_error == http::error::header_limit) {
      co_await WriteReadError(stream, ApiError::kHeadersTooLarge, "request headers too large");
      break;
    }
    if (read_error == http::error::body_limit) {
      co_await WriteReadError(stream, ApiError::kPayloadTooLarge, "request body too large");
      break;
    }
    if (read_error &&
        read_error.category() == http::make_error_code(http::error::bad_target).category() &&
        read_error != http::error::end_of_stream && read_error != http::error::partial_message) {
      co_await WriteReadError(stream, ApiError::kBadRequest,
                              "malformed HTTP request: " + read_error.message());
      break;
    }
    if (read_error) break;
    if (!co_await AwaitRequestSlot(limiter_, *lease, options_.idle_timeout)) break;
    // An upload's header outlives its parser, which its body is read with.
    Request upload_head;
    if (body_left) upload_head = parser.get();
    const Request& request = body_left ? upload_head : parser.get();
    auto started = std::chrono::steady_clock::now();
    metrics_.Started();
    Response response;
    try {
      response = Serve(request, local, client, nullptr);
      if (response.fetch_first && options_.pull_through) {
        // The upstream is asked on a thread of the fetch pool: this thread serves other
        // connections meanwhile.
        RevisionToFetch fetch = std::move(*response.fetch_first);
        PullThrough& pull = *options_.pull_through;
        Status fetched = co_await net::co_spawn(
            fetch_pool_,
            [&pull, &fetch]() -> net::awaitable<Status> {
              co_return pull.FetchRevision(fetch.type, fetch.repo, fetch.revision);
            },
            net::use_awaitable);
        response = Serve(request, local, client, &fetched);
      }
      if (response.stream && options_.pull_through) {
        auto failed = co_await AwaitFirstBytes(*response.stream, stream.get_executor(),
                                               options_.idle_timeout);
        if (failed) response = UpstreamErrorResponse(*failed, *options_.pull_through, false);
      }
    } catch (const std::exception& e) {
      // Handlers report errors as Status; this only guards the process against the unforeseen
      // (allocation failure, a library throwing), so one request cannot take the server down.
      Log(LogLevel::kError, std::string("request failed: ") + e.what());
      response = ErrorResponse(ApiError::kInternal, "internal error", true);
    }
    bool keep_alive = request.keep_alive();
    bool drain_after_answer = false;
    if (body_left) {
      if (response.upload) {
        Status received =
            co_await ReceiveUpload(stream, buffer, std::move(parser), *response.upload, options_);
        if (!received.ok()) {
          Log(LogLevel::kWarning, "upload refused: " + received.message());
          response = ErrorFromStatus(received.code() == StatusCode::kIoError
                                         ? received
                                         : Status(StatusCode::kInvalidArgument, received.message()),
                                     true);
          keep_alive = false;
        }
      } else {
        // Refused on its headers: the answer goes first, then the body is read and dropped, so
        // that a client that sends it all before reading sees the answer, not a reset.
        keep_alive = false;
        drain_after_answer = true;
      }
    }
    auto write_error = co_await WriteResponse(stream, request, response, keep_alive,
                                              options_.idle_timeout, store_);
    limiter_.FinishRequest(*lease);
    bool bodiless = request.method() == http::verb::head || response.length_only;
    uint64_t body_bytes = bodiless                           ? 0
                          : response.file || response.stream ? response.file_length
                                                             : response.body.size();
    metrics_.Finished(
        response.endpoint, static_cast<unsigned>(response.status), body_bytes,
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    if (drain_after_answer && !write_error) {
      co_await DropBody(stream, buffer, std::move(parser), options_);
    }
    if (write_error || !keep_alive) break;
  }
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
}

}  // namespace hubmirror::api
