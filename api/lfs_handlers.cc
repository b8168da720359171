// LFS uploads as the Hub's clients make them (hub-protocol §12.6): the batch API answers each
// object with a self-authorising upload URL on this server (basic transfer), or with no action
// when the caller may already name the content; the PUT to that URL streams the bytes into the
// store, checked against the announced size and SHA-256; verify confirms what is stored.
#include <charconv>

#include "api/access.h"
#include "api/upload_tickets.h"
#include "api/write_access.h"
#include "common/clock.h"
#include "common/digest.h"

namespace hubmirror::api {
namespace {

using nlohmann::json;

// How long an upload URL stays valid.
constexpr int64_t kUploadSeconds = 24 * 3600;
// The largest object the batch API accepts.
constexpr uint64_t kMaxObjectBytes = uint64_t{1} << 40;
// Objects per batch request, as the Hub's clients send at most (PY 256, JS 100).
constexpr size_t kMaxBatchObjects = 1000;

Response LfsJson(const json& body, http::status status = http::status::ok) {
  Response response = JsonResponse(body);
  response.status = status;
  for (auto& [name, value] : response.headers) {
    if (name == "Content-Type") value = "application/vnd.git-lfs+json";
  }
  return response;
}

// An object's entry: no action when the caller may name the content already, else an upload.
Result<json> BatchObject(const RequestContext& context, const json& object) {
  if (!object.is_object() || !object.contains("oid") || !object["oid"].is_string() ||
      !object.contains("size") || !object["size"].is_number_unsigned()) {
    return InvalidArgument("each object needs \"oid\" and \"size\"");
  }
  std::string oid = object["oid"].get<std::string>();
  uint64_t size = object["size"].get<uint64_t>();
  json entry = {{"oid", oid}, {"size", size}};
  if (!IsSha256Hex(oid) || size > kMaxObjectBytes) {
    entry["error"] = {{"code", 422}, {"message", "oid must be a sha256 and size at most 1 TiB"}};
    return entry;
  }
  const std::string& user = context.caller.name();
  auto stored = context.store.Contains(oid);
  if (!stored.ok()) return stored.status();
  if (*stored) {
    auto may = MayReferenceContent(context, oid);
    if (!may.ok()) return may.status();
    if (*may || context.publisher->Uploaded(user, oid)) return entry;
  }
  int64_t expires = NowUnixMillis() / 1000 + kUploadSeconds;
  std::string href = context.origin + "/api/lfs-upload/" + oid + "?size=" + std::to_string(size) +
                     "&user=" + user + "&expires=" + std::to_string(expires) +
                     "&sig=" + UploadSignature(oid, size, user, expires);
  entry["authenticated"] = true;
  entry["actions"] = {
      {"upload", {{"href", href}, {"expires_in", kUploadSeconds}}},
      {"verify", {{"href", context.origin + "/api/lfs-verify"}, {"expires_in", kUploadSeconds}}}};
  return entry;
}

// A decimal query parameter, or nullopt.
std::optional<int64_t> Number(const QueryParams& query, std::string_view key) {
  auto text = QueryValue(query, key);
  int64_t value = 0;
  if (!text || text->empty()) return std::nullopt;
  auto [end, error] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (error != std::errc() || end != text->data() + text->size() || value < 0) return std::nullopt;
  return value;
}

}  // namespace

Response HandleLfsBatch(const RequestContext& context) {
  Response refusal;
  auto repo = WritableRepo(context, context.route.type, context.route.repo, &refusal);
  if (!repo) {
    if (refusal.status == http::status::unauthorized) {
      refusal.Set("LFS-Authenticate", "Basic realm=\"hubmirror\"");
    }
    return refusal;
  }
  auto body = JsonObjectBody(context);
  if (!body.ok()) return ErrorFromStatus(body.status(), true);
  auto operation = body->find("operation");
  if (operation == body->end() || *operation != "upload") {
    return ErrorResponse(ApiError::kBadRequest, "only uploads go through this batch API", true);
  }
  auto objects = body->find("objects");
  if (objects == body->end() || !objects->is_array() || objects->size() > kMaxBatchObjects) {
    return ErrorResponse(
        ApiError::kBadRequest,
        "\"objects\" must be an array of at most " + std::to_string(kMaxBatchObjects) + " objects",
        true);
  }
  json answer = json::array();
  uint64_t adding = 0;
  for (const auto& object : *objects) {
    auto entry = BatchObject(context, object);
    if (!entry.ok()) return ErrorFromStatus(entry.status(), true);
    if (entry->contains("actions")) adding += (*entry)["size"].get<uint64_t>();
    answer.push_back(std::move(entry.value()));
  }
  // Refused before any byte is sent: the uploads would take the namespace over its quota.
  if (auto refusal = QuotaRefusal(context, *repo, adding)) return std::move(*refusal);
  // Never "xet": the clients would then upload through Xet, which this server does not have.
  return LfsJson({{"transfer", "basic"}, {"objects", std::move(answer)}, {"hash_algo", "sha256"}});
}

Response HandleLfsUpload(const RequestContext& context) {
  const std::string& oid = context.route.item;
  auto size = Number(context.route.query, "size");
  auto expires = Number(context.route.query, "expires");
  std::string user = QueryValue(context.route.query, "user").value_or("");
  std::string signature = QueryValue(context.route.query, "sig").value_or("");
  if (!size || !expires || !ValidUploadSignature(oid, *size, user, *expires, signature)) {
    return ErrorResponse(ApiError::kForbidden,
                         "this upload URL is not valid (or has expired): ask the batch API again",
                         true);
  }
  if (context.publisher == nullptr) {
    return ErrorResponse(ApiError::kServiceUnavailable, "this server does not publish", true);
  }
  auto length = context.request.find(http::field::content_length);
  if (length == context.request.end() || length->value() != std::to_string(*size)) {
    return ErrorResponse(ApiError::kBadRequest,
                         "the upload of " + oid + " must send exactly " + std::to_string(*size) +
                             " bytes with a Content-Length",
                         true);
  }
  auto sink = context.publisher->BeginUpload(oid, static_cast<uint64_t>(*size), user);
  if (!sink.ok()) return ErrorFromStatus(sink.status(), true);
  Response response = JsonResponse(json::object());
  response.upload = std::move(sink.value());
  return response;
}

Response HandleLfsVerify(const RequestContext& context) {
  if (context.caller.anonymous()) {
    return ErrorResponse(ApiError::kUnauthorized, "You must be authenticated to verify", true);
  }
  auto body = JsonObjectBody(context);
  if (!body.ok()) return ErrorFromStatus(body.status(), true);
  auto oid_field = body->find("oid");
  auto size = body->find("size");
  std::string oid =
      oid_field != body->end() && oid_field->is_string() ? oid_field->get<std::string>() : "";
  if (!IsSha256Hex(oid) || size == body->end() || !size->is_number_unsigned()) {
    return ErrorResponse(ApiError::kBadRequest, "the body needs \"oid\" and \"size\"", true);
  }
  auto stored = context.store.Open(oid);
  bool may = stored.ok() && stored->size() == size->get<uint64_t>() &&
             context.publisher != nullptr &&
             context.publisher->Uploaded(context.caller.name(), oid);
  if (stored.ok() && !may) {
    auto readable = MayReferenceContent(context, oid);
    if (!readable.ok()) return ErrorFromStatus(readable.status(), true);
    may = *readable && stored->size() == size->get<uint64_t>();
  }
  if (!may) {
    return ErrorResponse(ApiError::kEntryNotFound, "object " + oid + " is not stored here", true);
  }
  return LfsJson(json::object());
}

}  // namespace hubmirror::api
