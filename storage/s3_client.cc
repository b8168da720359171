#include "storage/s3_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "common/clock.h"
#include "common/text_format.h"
#include "common/url.h"
#include "storage/s3_presign.h"

namespace hubmirror::storage {
namespace {

// Attempts of a request that failed in transit or with a 5xx (each after a longer pause).
constexpr int kAttempts = 4;
// Idle connections kept for reuse.
constexpr size_t kPooledHandles = 16;
// A body read into memory (a listing, an error) is kept up to this size; the rest is dropped.
constexpr size_t kMaxBodyBytes = size_t{16} << 20;

std::string Trim(std::string text) {
  size_t first = text.find_first_not_of(" \t\r\n");
  size_t last = text.find_last_not_of(" \t\r\n");
  return first == std::string::npos ? "" : text.substr(first, last - first + 1);
}

}  // namespace

Result<S3Credentials> LoadS3Credentials(const std::string& file) {
  S3Credentials credentials;
  const char* key = std::getenv("AWS_ACCESS_KEY_ID");
  const char* secret = std::getenv("AWS_SECRET_ACCESS_KEY");
  if (key != nullptr && secret != nullptr && *key != '\0' && *secret != '\0') {
    return S3Credentials{key, secret};
  }
  if (file.empty()) {
    return InvalidArgument(
        "S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or s3_credentials_file");
  }
  std::ifstream in(file);
  if (!in) return InvalidArgument("S3 credentials: cannot read " + file);
  std::string line;
  while (std::getline(in, line)) {
    line = Trim(line.substr(0, line.find('#')));
    size_t equals = line.find('=');
    if (equals == std::string::npos) continue;
    std::string name = Trim(line.substr(0, equals));
    std::string value = Trim(line.substr(equals + 1));
    if (name == "AWS_ACCESS_KEY_ID") credentials.access_key = value;
    if (name == "AWS_SECRET_ACCESS_KEY") credentials.secret_key = value;
  }
  if (credentials.access_key.empty() || credentials.secret_key.empty()) {
    return InvalidArgument("S3 credentials: " + file +
                           " needs AWS_ACCESS_KEY_ID=... and AWS_SECRET_ACCESS_KEY=... lines");
  }
  return credentials;
}

struct S3Client::Request {
  std::string method = "GET";
  std::optional<std::string> key;  // relative; none for the bucket itself
  std::vector<std::pair<std::string, std::string>> query;
  std::vector<std::string> headers;
  std::optional<std::string_view> body;  // sent with a Content-Length when set
  const std::function<Status(const char*, size_t)>* sink = nullptr;
};

namespace {

// What one transfer's callbacks see.
struct Transfer {
  CURL* handle = nullptr;
  const std::function<Status(const char*, size_t)>* sink = nullptr;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string_view upload;
  size_t uploaded = 0;
  bool delivered = false;  // the sink got bytes: the request cannot be sent again
  Status sink_status;
};

bool Succeeded(CURL* handle) {
  long status = 0;
  curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &status);
  return status >= 200 && status < 300;
}

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  size_t bytes = size * count;
  if (transfer->sink != nullptr && Succeeded(transfer->handle)) {
    transfer->delivered = true;
    transfer->sink_status = (*transfer->sink)(data, bytes);
    return transfer->sink_status.ok() ? bytes : 0;
  }
  size_t room = kMaxBodyBytes - std::min(transfer->body.size(), kMaxBodyBytes);
  transfer->body.append(data, std::min(bytes, room));
  return bytes;
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  std::string line(data, size * count);
  size_t colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    transfer->headers.emplace_back(name, Trim(line.substr(colon + 1)));
  }
  return size * count;
}

size_t OnUpload(char* buffer, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  size_t take = std::min(size * count, transfer->upload.size() - transfer->uploaded);
  std::copy_n(transfer->upload.data() + transfer->uploaded, take, buffer);
  transfer->uploaded += take;
  return take;
}

std::string Header(const std::vector<std::pair<std::string, std::string>>& headers,
                   std::string_view name) {
  for (const auto& [key, value] : headers) {
    if (key == name) return value;
  }
  return "";
}

}  // namespace

S3Client::S3Client(S3Location location, S3Credentials credentials)
    : location_(std::move(location)), credentials_(std::move(credentials)) {}

S3Client::~S3Client() {
  for (void* handle : pool_) curl_easy_cleanup(static_cast<CURL*>(handle));
}

void* S3Client::TakeHandle() {
  {
    std::lock_guard lock(pool_mutex_);
    if (!pool_.empty()) {
      void* handle = pool_.back();
      pool_.pop_back();
      return handle;
    }
  }
  return curl_easy_init();
}

void S3Client::GiveBack(void* handle) {
  std::lock_guard lock(pool_mutex_);
  if (pool_.size() < kPooledHandles) {
    pool_.push_back(handle);
  } else {
    curl_easy_cleanup(static_cast<CURL*>(handle));
  }
}

std::string S3Client::PresignGet(const std::string& key, int64_t valid_seconds) const {
  return PresignedGetUrl(location_, credentials_, key, NowUnixMillis() / 1000, valid_seconds);
}

std::optional<std::string> S3Client::RelativeKey(std::string_view full) const {
  if (full.substr(0, location_.prefix.size()) != location_.prefix) return std::nullopt;
  return std::string(full.substr(location_.prefix.size()));
}

Result<S3Client::Answer> S3Client::Send(const Request& request) {
  // The URL: the bucket in the path or in the host; the query sorted, as SigV4's canonical
  // request needs and libcurl does not do; a bare parameter written with '=' for the same reason.
  std::string url = location_.endpoint;
  std::string path = request.key ? "/" + PercentEncode(FullKey(*request.key), true) : "/";
  if (location_.virtual_host) {
    size_t host = url.find("://");
    host = host == std::string::npos ? 0 : host + 3;
    url.insert(host, location_.bucket + ".");
    url += path;
  } else {
    url += "/" + location_.bucket + (request.key ? path : "");
  }
  auto query = request.query;
  std::sort(query.begin(), query.end());
  for (size_t i = 0; i < query.size(); ++i) {
    url += (i == 0 ? "?" : "&") + PercentEncode(query[i].first, false) + "=" +
           PercentEncode(query[i].second, false);
  }
  std::string what =
      request.method + " " +
      (request.key ? location_.bucket + "/" + FullKey(*request.key) : location_.bucket);
  std::string sigv4 = "aws:amz:" + location_.region + ":s3";

  Status failure;
  for (int attempt = 1; attempt <= kAttempts; ++attempt) {
    if (attempt > 1) std::this_thread::sleep_for(std::chrono::milliseconds(200 << attempt));
    CURL* handle = static_cast<CURL*>(TakeHandle());
    if (handle == nullptr) return IoError("s3 " + what + ": cannot start a transfer");
    curl_easy_reset(handle);
    Transfer transfer;
    transfer.handle = handle;
    transfer.sink = request.sink;
    curl_slist* headers = nullptr;
    // libcurl's SigV4 leaves the payload hash out, which S3 servers need (RGW refuses without).
    headers = curl_slist_append(headers, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
    for (const auto& header : request.headers) headers = curl_slist_append(headers, header.c_str());
    curl_easy_setopt(handle, CURLOPT_URL, url.c_str());
    curl_easy_setopt(handle, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(handle, CURLOPT_AWS_SIGV4, sigv4.c_str());
    curl_easy_setopt(handle, CURLOPT_USERNAME, credentials_.access_key.c_str());
    curl_easy_setopt(handle, CURLOPT_PASSWORD, credentials_.secret_key.c_str());
    curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(handle, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(handle, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, OnBody);
    curl_easy_setopt(handle, CURLOPT_WRITEDATA, &transfer);
    curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, OnHeader);
    curl_easy_setopt(handle, CURLOPT_HEADERDATA, &transfer);
    if (request.method == "HEAD") {
      curl_easy_setopt(handle, CURLOPT_NOBODY, 1L);
    } else if (request.method == "PUT") {
      transfer.upload = request.body.value_or(std::string_view());
      curl_easy_setopt(handle, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(handle, CURLOPT_READFUNCTION, OnUpload);
      curl_easy_setopt(handle, CURLOPT_READDATA, &transfer);
      curl_easy_setopt(handle, CURLOPT_INFILESIZE_LARGE,
                       static_cast<curl_off_t>(transfer.upload.size()));
    } else if (request.method == "POST") {
      std::string_view body = request.body.value_or(std::string_view());
      curl_easy_setopt(handle, CURLOPT_POST, 1L);
      curl_easy_setopt(handle, CURLOPT_POSTFIELDS, body.data());
      curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    } else if (request.method != "GET") {
      curl_easy_setopt(handle, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    }
    CURLcode code = curl_easy_perform(handle);
    long status = 0;
    curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(headers);
    GiveBack(handle);
    if (!transfer.sink_status.ok()) return transfer.sink_status;
    if (code != CURLE_OK) {
      failure = IoError("s3 " + what + ": " + curl_easy_strerror(code));
      if (transfer.delivered) return failure;
      continue;
    }
    // S3 may answer 200 with an error in the body (a copy or a completion that failed late).
    std::optional<S3Error> error =
        transfer.sink == nullptr || status >= 300 ? ParseError(transfer.body) : std::nullopt;
    if (status >= 200 && status < 300 && !error) {
      return Answer{status, std::move(transfer.body), std::move(transfer.headers)};
    }
    std::string detail =
        "s3 " + what + ": " + std::to_string(status) +
        (error ? " " + error->code + (error->message.empty() ? "" : ": " + error->message) : "");
    if (status == 404) return NotFound(detail);
    if (status >= 500 || (status >= 200 && status < 300)) {
      failure = IoError(detail);
      continue;
    }
    return Status(StatusCode::kFailedPrecondition, detail);
  }
  return failure;
}

Status S3Client::CreateBucket() {
  Request request;
  request.method = "PUT";
  request.body = "";
  auto answer = Send(request);
  if (!answer.ok() &&
      answer.status().message().find("BucketAlreadyOwnedByYou") != std::string::npos) {
    return Status::Ok();
  }
  return answer.status();
}

Result<std::optional<S3Object>> S3Client::Head(const std::string& key) {
  Request request;
  request.method = "HEAD";
  request.key = key;
  auto answer = Send(request);
  if (answer.status().code() == StatusCode::kNotFound) return std::optional<S3Object>();
  if (!answer.ok()) return answer.status();
  S3Object object;
  object.key = FullKey(key);
  std::string length = Header(answer->headers, "content-length");
  object.size = length.empty() ? 0 : std::strtoull(length.c_str(), nullptr, 10);
  object.modified_ms = ParseS3Time(Header(answer->headers, "last-modified")).value_or(0);
  object.etag = Header(answer->headers, "etag");
  return std::optional<S3Object>(std::move(object));
}

Status S3Client::Put(const std::string& key, std::string_view body) {
  Request request;
  request.method = "PUT";
  request.key = key;
  request.body = body;
  return Send(request).status();
}

Status S3Client::Get(const std::string& key, uint64_t offset, std::optional<uint64_t> length,
                     const std::function<Status(const char*, size_t)>& sink) {
  Request request;
  request.key = key;
  if (offset > 0 || length) {
    if (length && *length == 0) return Status::Ok();
    request.headers.push_back("Range: bytes=" + std::to_string(offset) + "-" +
                              (length ? std::to_string(offset + *length - 1) : ""));
  }
  request.sink = &sink;
  return Send(request).status();
}

Status S3Client::Delete(const std::string& key) {
  Request request;
  request.method = "DELETE";
  request.key = key;
  Status deleted = Send(request).status();
  return deleted.code() == StatusCode::kNotFound ? Status::Ok() : deleted;
}

Status S3Client::Copy(const std::string& from, const std::string& to) {
  Request request;
  request.method = "PUT";
  request.key = to;
  request.body = "";
  request.headers.push_back("x-amz-copy-source: /" + location_.bucket + "/" +
                            PercentEncode(FullKey(from), true));
  request.headers.push_back("x-amz-metadata-directive: REPLACE");
  return Send(request).status();
}

Result<S3ListPage> S3Client::List(const std::string& prefix,
                                  const std::optional<std::string>& token) {
  Request request;
  request.query = {{"list-type", "2"}, {"prefix", FullKey(prefix)}};
  if (token) request.query.emplace_back("continuation-token", *token);
  auto answer = Send(request);
  if (!answer.ok()) return answer.status();
  auto page = ParseListObjects(answer->body);
  if (!page.ok())
    return Corrupt("s3 listing of " + FullKey(prefix) + ": " + page.status().message());
  return page;
}

Result<std::string> S3Client::StartMultipart(const std::string& key) {
  Request request;
  request.method = "POST";
  request.key = key;
  request.query = {{"uploads", ""}};
  auto answer = Send(request);
  if (!answer.ok()) return answer.status();
  auto id = ParseInitiateMultipart(answer->body);
  if (!id.ok())
    return Corrupt("s3 multipart upload of " + FullKey(key) + ": " + id.status().message());
  return id;
}

Result<std::string> S3Client::PutPart(const std::string& key, const std::string& upload_id,
                                      int part, std::string_view body) {
  Request request;
  request.method = "PUT";
  request.key = key;
  request.query = {{"partNumber", std::to_string(part)}, {"uploadId", upload_id}};
  request.body = body;
  auto answer = Send(request);
  if (!answer.ok()) return answer.status();
  std::string etag = Header(answer->headers, "etag");
  if (etag.empty())
    return Corrupt("s3 part " + std::to_string(part) + " of " + FullKey(key) + ": no ETag");
  return etag;
}

Status S3Client::CompleteMultipart(const std::string& key, const std::string& upload_id,
                                   const std::vector<std::string>& part_etags) {
  std::string body = "<CompleteMultipartUpload>";
  for (size_t i = 0; i < part_etags.size(); ++i) {
    body += "<Part><PartNumber>" + std::to_string(i + 1) + "</PartNumber><ETag>" +
            EscapeMarkup(part_etags[i]) + "</ETag></Part>";
  }
  body += "</CompleteMultipartUpload>";
  Request request;
  request.method = "POST";
  request.key = key;
  request.query = {{"uploadId", upload_id}};
  request.headers.push_back("Content-Type: application/xml");
  request.body = body;
  return Send(request).status();
}

Status S3Client::AbortMultipart(const std::string& key, const std::string& upload_id) {
  Request request;
  request.method = "DELETE";
  request.key = key;
  request.query = {{"uploadId", upload_id}};
  Status aborted = Send(request).status();
  return aborted.code() == StatusCode::kNotFound ? Status::Ok() : aborted;
}

Result<S3UploadsPage> S3Client::ListMultipart(
    const std::string& prefix, const std::optional<std::pair<std::string, std::string>>& from) {
  Request request;
  request.query = {{"uploads", ""}, {"prefix", FullKey(prefix)}};
  if (from) {
    request.query.emplace_back("key-marker", from->first);
    if (!from->second.empty()) request.query.emplace_back("upload-id-marker", from->second);
  }
  auto answer = Send(request);
  if (!answer.ok()) return answer.status();
  auto page = ParseListMultipartUploads(answer->body);
  if (!page.ok()) {
    return Corrupt("s3 upload listing of " + FullKey(prefix) + ": " + page.status().message());
  }
  return page;
}

}  // namespace hubmirror::storage
