#include "api/handler_support.h"

#include <charconv>

#include "common/json_text.h"
#include "common/log.h"

namespace hubmirror::api {

Response ErrorResponse(ApiError error, const std::string& message, bool json_body) {
  ApiErrorInfo info = Describe(error);
  Response response;
  response.status = info.status;
  // Header values must stay on one line whatever the message contains.
  std::string header_message = message.substr(0, 1000);
  for (char& c : header_message) {
    auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) c = ' ';
  }
  response.Set("X-Error-Code", std::string(info.code));
  response.Set("X-Error-Message", header_message);
  if (json_body) {
    response.Set("Content-Type", "application/json; charset=utf-8");
    response.body = CompactJson({{"error", message}});
  } else {
    response.Set("Content-Type", "text/plain; charset=utf-8");
    response.body = message;
  }
  return response;
}

Response ErrorFromStatus(const Status& status, bool json_body) {
  ApiError error = FromStatus(status);
  if (error == ApiError::kInternal) {
    // Details of internal failures (SQL, file system) are for the operator's log, not clients.
    Log(LogLevel::kError, status.message());
    return ErrorResponse(error, "internal error", json_body);
  }
  return ErrorResponse(error, status.message(), json_body);
}

void QuarantineServedBlob(storage::BlobStore& store, const std::string& sha256,
                          const std::string& what, const std::string& actual) {
  Status moved = store.Quarantine(sha256);
  Log(LogLevel::kError, "content of " + what + " failed verification as it was served: sha256 " +
                            "expected " + sha256 + ", actual " + actual + "; " +
                            (moved.ok() ? "quarantined" : "not quarantined: " + moved.message()));
}

Response UpstreamErrorResponse(const Status& failure, const PullThrough& pull, bool json_body) {
  if (int64_t wait = pull.RetryAfterSeconds(); wait > 0) {
    Response limited = ErrorResponse(ApiError::kUpstreamRateLimited, failure.message(), json_body);
    limited.Set("Retry-After", std::to_string(wait));
    return limited;
  }
  return ErrorResponse(ApiError::kUpstreamUnavailable, failure.message(), json_body);
}

Response JsonResponse(const nlohmann::json& body) {
  Response response;
  response.Set("Content-Type", "application/json; charset=utf-8");
  response.body = CompactJson(body);
  return response;
}

std::string NextPageLink(const RequestContext& context,
                         const std::vector<std::pair<std::string, std::string>>& replaced) {
  std::string_view target = context.request.target();
  size_t question = target.find('?');
  // Built by appending: GCC 12 at -O3 reports a false -Wrestrict on `"literal" + std::string`.
  std::string link = "<";
  link += context.origin;
  link += target.substr(0, question);
  std::string query;
  if (question != std::string_view::npos) {
    std::string_view rest = target.substr(question + 1);
    while (!rest.empty()) {
      size_t amp = rest.find('&');
      std::string_view pair = rest.substr(0, amp);
      rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
      std::string_view key = pair.substr(0, pair.find('='));
      bool drop = pair.empty();
      for (const auto& [name, value] : replaced) drop = drop || key == name;
      if (drop) continue;
      if (!query.empty()) query += '&';
      query += pair;
    }
  }
  for (const auto& [name, value] : replaced) {
    if (!query.empty()) query += '&';
    query += name;
    query += '=';
    query += PercentEncode(value, false);
  }
  link += '?';
  link += query;
  link += ">; rel=\"next\"";
  return link;
}

Result<std::optional<int64_t>> IntegerParam(const QueryParams& query, std::string_view key) {
  auto text = QueryValue(query, key);
  if (!text) return std::optional<int64_t>();
  int64_t value = 0;
  auto [end, error] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (error != std::errc() || end != text->data() + text->size() || value < 0) {
    return InvalidArgument(std::string(key) + " must be a non-negative integer");
  }
  return std::optional<int64_t>(value);
}

}  // namespace hubmirror::api
