#include "api/response_head.h"

#include <catch2/catch.hpp>

namespace hubmirror::api {
namespace {

TEST_CASE("Response heads are serialised as HTTP/1.x with CORS headers", "[response_head]") {
  Response response;
  response.status = http::status::partial_content;
  response.Set("X-Repo-Commit", "abc");
  response.Set("Content-Range", "bytes 0-9/100");
  std::string head = SerializeResponseHead(response, 11, true, 10);
  CHECK(head ==
        "HTTP/1.1 206 Partial Content\r\n"
        "Access-Control-Allow-Origin: *\r\n"
        "Access-Control-Expose-Headers: X-Repo-Commit,X-Request-Id,X-Error-Code,X-Error-Message,"
        "X-Total-Count,ETag,Link,Accept-Ranges,Content-Range,X-Linked-Size,X-Linked-ETag\r\n"
        "X-Repo-Commit: abc\r\n"
        "Content-Range: bytes 0-9/100\r\n"
        "Content-Length: 10\r\n"
        "\r\n");
}

TEST_CASE("Connection follows the version's default and keep-alive", "[response_head]") {
  Response response;
  response.status = http::status::not_modified;
  CHECK(SerializeResponseHead(response, 11, false, std::nullopt).find("Connection: close\r\n") !=
        std::string::npos);
  CHECK(SerializeResponseHead(response, 11, true, std::nullopt).find("Connection") ==
        std::string::npos);
  CHECK(SerializeResponseHead(response, 10, true, std::nullopt).find("Connection: keep-alive") !=
        std::string::npos);
  CHECK(SerializeResponseHead(response, 10, false, std::nullopt).find("Connection") ==
        std::string::npos);
  CHECK(SerializeResponseHead(response, 11, true, std::nullopt).find("Content-Length") ==
        std::string::npos);
}

TEST_CASE("No header value can end its line or start another", "[response_head]") {
  Response response;
  response.Set("X-Error-Message", std::string("key 'x\r\nSet-Cookie: a=b\n\0'", 26));
  std::string head = SerializeResponseHead(response, 11, true, 0);
  CHECK(head.find("\r\nSet-Cookie") == std::string::npos);
  CHECK(head.find("X-Error-Message: key 'x  Set-Cookie: a=b  '\r\n") != std::string::npos);
}

}  // namespace
}  // namespace hubmirror::api
