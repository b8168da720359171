#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdint>
#include <optional>

#include "api/publisher.h"
#include "api/server.h"
#include "common/status.h"

namespace hubmirror::api {

// How the server reads requests off a connection: headers, bodies with their limits, and the
// bodies of LFS uploads, which stream to the store instead of memory. Each call is used by one
// session's coroutine.

namespace net = boost::asio;
namespace beast = boost::beast;

// Reads the next request of a connection: waits up to the idle timeout for its first byte, then
// allows the header timeout for the rest of its header and the idle timeout for its body, of at
// most max_body_bytes (max_commit_body_bytes for a commit). An LFS upload's body is left unread,
// and `*body_left` set: ReceiveUpload streams it to the store once its URL is checked. Returns
// Beast's error (http::error::body_limit for a body over its limit).
net::awaitable<beast::error_code> ReadRequest(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                                              http::request_parser<http::string_body>& parser,
                                              const ServerOptions& options, bool* body_left);

// Streams an LFS upload's body into `sink` as it arrives, in chunks of a fixed size, so that an
// upload of any size keeps the server's memory flat; then lets the sink check and store it. The
// idle timeout applies to each chunk. Past `max_bytes` (when set) it stops with kIoError; a
// connection that fails gives kIoError too.
net::awaitable<Status> ReceiveUpload(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                                     http::request_parser<http::string_body>&& header_parser,
                                     UploadSink& sink, const ServerOptions& options,
                                     std::optional<uint64_t> max_bytes = std::nullopt);

// Reads and drops the body of an upload refused on its headers, after its answer was sent, at
// most 256 MiB, like a lingering close: a client that sends a whole body before it reads sees the
// answer rather than a reset.
net::awaitable<void> DropBody(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                              http::request_parser<http::string_body>&& header_parser,
                              const ServerOptions& options);

}  // namespace hubmirror::api
