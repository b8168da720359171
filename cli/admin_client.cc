#include "cli/admin_client.h"

#include <curl/curl.h>

#include <memory>

namespace hubmirror::cli {
namespace {

// An answer is small JSON; more than this is not an admin API.
constexpr size_t kMaxAnswerBytes = 64u << 20;

size_t Collect(char* data, size_t size, size_t count, void* user) {
  auto* body = static_cast<std::string*>(user);
  if (body->size() + size * count > kMaxAnswerBytes) return 0;
  body->append(data, size * count);
  return size * count;
}

Status HttpFailure(long code, const std::string& what, const std::string& message) {
  std::string line = what + ": " + std::to_string(code) + " " + message;
  switch (code) {
    case 400:
      return InvalidArgument(line);
    case 401:
    case 403:
    case 409:
      return Status(StatusCode::kFailedPrecondition, line);
    case 404:
      return NotFound(line);
    default:
      return IoError(line);
  }
}

}  // namespace

Result<AdminClient> AdminClient::Create(std::string server, std::string token) {
  while (!server.empty() && server.back() == '/') server.pop_back();
  if (server.rfind("http://", 0) != 0 && server.rfind("https://", 0) != 0) {
    return InvalidArgument("--server must be an http(s) URL, got '" + server + "'");
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  return AdminClient(std::move(server), std::move(token));
}

Result<nlohmann::json> AdminClient::Call(const std::string& method, const std::string& path,
                                         const std::optional<nlohmann::json>& body) const {
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) return Internal("cannot start libcurl");
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> headers(nullptr, curl_slist_free_all);
  auto add_header = [&](const std::string& line) {
    headers.reset(curl_slist_append(headers.release(), line.c_str()));
  };
  add_header("Accept: application/json");
  if (!token_.empty()) add_header("Authorization: Bearer " + token_);
  std::string payload;
  if (body) {
    payload = body->dump();
    add_header("Content-Type: application/json");
    curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDS, payload.c_str());
    curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDSIZE, static_cast<long>(payload.size()));
  } else if (method == "POST") {
    curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDS, "");
  }
  std::string url = server_ + path;
  std::string answer;
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, Collect);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &answer);
  curl_easy_setopt(curl.get(), CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT, 60L);
  curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
  std::string what = method + " " + url;
  CURLcode done = curl_easy_perform(curl.get());
  if (done != CURLE_OK) return IoError(what + ": " + curl_easy_strerror(done));
  long code = 0;
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &code);
  nlohmann::json parsed = nlohmann::json::parse(answer, nullptr, false);
  if (code < 200 || code > 299) {
    std::string message =
        parsed.is_object() && parsed.contains("error") && parsed["error"].is_string()
            ? parsed["error"].get<std::string>()
            : answer.substr(0, 200);
    return HttpFailure(code, what, message);
  }
  if (parsed.is_discarded()) return IoError(what + ": the answer is not JSON");
  return parsed;
}

}  // namespace hubmirror::cli
