#include "api/response_head.h"

namespace hubmirror::api {
namespace {

constexpr std::string_view kExposedHeaders =
    "X-Repo-Commit,X-Request-Id,X-Error-Code,X-Error-Message,X-Total-Count,ETag,Link,"
    "Accept-Ranges,Content-Range,X-Linked-Size,X-Linked-ETag";

void AppendField(std::string& head, std::string_view name, std::string_view value) {
  head += name;
  head += ": ";
  size_t start = head.size();
  head += value;
  for (size_t i = start; i < head.size(); ++i) {
    auto byte = static_cast<unsigned char>(head[i]);
    if (byte < 0x20 || byte == 0x7f) head[i] = ' ';
  }
  head += "\r\n";
}

}  // namespace

std::string SerializeResponseHead(const Response& response, unsigned version, bool keep_alive,
                                  std::optional<uint64_t> content_length) {
  std::string head;
  head.reserve(512);
  head += version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  head += std::to_string(static_cast<unsigned>(response.status));
  head += ' ';
  head += http::obsolete_reason(response.status);
  head += "\r\n";
  AppendField(head, "Access-Control-Allow-Origin", "*");
  AppendField(head, "Access-Control-Expose-Headers", kExposedHeaders);
  for (const auto& [name, value] : response.headers) AppendField(head, name, value);
  if (content_length) AppendField(head, "Content-Length", std::to_string(*content_length));
  if (version == 10 && keep_alive) AppendField(head, "Connection", "keep-alive");
  if (version != 10 && !keep_alive) AppendField(head, "Connection", "close");
  head += "\r\n";
  return head;
}

}  // namespace hubmirror::api
