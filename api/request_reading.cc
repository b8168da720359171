#include "api/request_reading.h"

#include <boost/asio/as_tuple.hpp>
#include <vector>

namespace hubmirror::api {
namespace {

constexpr auto kNoThrow = net::as_tuple(net::use_awaitable);
// The most a single read of a request takes from the socket, as in Beast's own reads.
constexpr size_t kReadBytes = 65536;
// An LFS upload is streamed to the store in chunks of this size.
constexpr size_t kUploadChunkBytes = 1u << 20;
// The most of a refused upload's body read (and dropped) after its answer.
constexpr uint64_t kDroppedBodyBytes = 256u << 20;

// The body of an upload refused on its headers: read, and dropped.
class DroppedBody : public UploadSink {
 public:
  Status Append(const char*, size_t) override { return Status::Ok(); }
  Status Finish() override { return Status::Ok(); }
};

}  // namespace

net::awaitable<beast::error_code> ReadRequest(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                                              http::request_parser<http::string_body>& parser,
                                              const ServerOptions& options, bool* body_left) {
  if (buffer.size() == 0) {
    stream.expires_after(options.idle_timeout);
    auto [ec, bytes] = co_await stream.async_read_some(
        buffer.prepare(beast::read_size(buffer, kReadBytes)), kNoThrow);
    if (ec) co_return ec;
    buffer.commit(bytes);
  }
  stream.expires_after(options.header_timeout);
  auto [header_error, header_bytes] =
      co_await http::async_read_header(stream, buffer, parser, kNoThrow);
  if (header_error || parser.is_done()) co_return header_error;
  // The parser took the header with no body limit: which limit applies depends on the request.
  const Request& head = parser.get();
  if (head.method() == http::verb::put && head.target().starts_with("/api/lfs-upload/")) {
    *body_left = true;
    co_return beast::error_code{};
  }
  // A commit carries its regular files inline (ServerOptions::max_commit_body_bytes).
  bool commit =
      head.method() == http::verb::post && head.target().find("/commit/") != std::string_view::npos;
  uint64_t limit = commit ? options.max_commit_body_bytes : options.max_body_bytes;
  if (auto length = parser.content_length(); length && *length > limit) {
    co_return http::error::body_limit;
  }
  parser.body_limit(limit);
  stream.expires_after(options.idle_timeout);
  auto [body_error, body_bytes] = co_await http::async_read(stream, buffer, parser, kNoThrow);
  co_return body_error;
}

net::awaitable<Status> ReceiveUpload(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                                     http::request_parser<http::string_body>&& header_parser,
                                     UploadSink& sink, const ServerOptions& options,
                                     std::optional<uint64_t> max_bytes) {
  http::request_parser<http::buffer_body> parser(std::move(header_parser));
  // An upload's Content-Length was checked against its signed URL.
  parser.body_limit(boost::none);
  std::vector<char> chunk(kUploadChunkBytes);
  uint64_t received = 0;
  while (!parser.is_done()) {
    if (max_bytes && received > *max_bytes) co_return IoError("the body is too large to read");
    parser.get().body().data = chunk.data();
    parser.get().body().size = chunk.size();
    stream.expires_after(options.idle_timeout);
    auto [ec, bytes] = co_await http::async_read_some(stream, buffer, parser, kNoThrow);
    if (ec == http::error::need_buffer) ec = {};
    size_t got = chunk.size() - parser.get().body().size;
    received += got;
    if (got > 0) {
      if (Status appended = sink.Append(chunk.data(), got); !appended.ok()) co_return appended;
    }
    if (ec) co_return IoError("the upload ended early: " + ec.message());
  }
  co_return sink.Finish();
}

net::awaitable<void> DropBody(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                              http::request_parser<http::string_body>&& header_parser,
                              const ServerOptions& options) {
  DroppedBody dropped;
  // Its outcome does not matter: the answer was sent.
  static_cast<void>(co_await ReceiveUpload(stream, buffer, std::move(header_parser), dropped,
                                           options, kDroppedBodyBytes));
}

}  // namespace hubmirror::api
