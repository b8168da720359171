// LFS uploads as the Hub's clients make them (hub-protocol §12.6): the batch API answers each
// object with self-authorising URLs on this server, or with no action when the caller may already
// name the content. An object over [publish] multipart_above_bytes (1 GiB by default) goes in
// parts of 100 MiB when the client offers the "multipart" transfer (retrying a part costs a
// part, not the object), else in one PUT. The PUTs
// stream the bytes into the store, checked against the announced size and SHA-256; the
// multipart completion checks and stores the whole; verify confirms what is stored.
#include <charconv>
#include <cstdio>

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
// The size of a multipart upload's parts, as the Hub's (the last part may be shorter).
constexpr uint64_t kPartBytes = uint64_t{100} << 20;

uint64_t PartCount(uint64_t size) { return (size + kPartBytes - 1) / kPartBytes; }

// A part's ETag: the clients need one, non-empty, and send it back with the completion.
std::string PartTag(uint64_t part) { return "\"part-" + std::to_string(part) + "\""; }

Response LfsJson(const json& body, http::status status = http::status::ok) {
  Response response = JsonResponse(body);
  response.status = status;
  for (auto& [name, value] : response.headers) {
    if (name == "Content-Type") value = "application/vnd.git-lfs+json";
  }
  return response;
}

// The query that authorises an upload of `oid`, `size` bytes, by `user`, for a day.
std::string SignedQuery(const std::string& oid, uint64_t size, const std::string& user) {
  int64_t expires = NowUnixMillis() / 1000 + kUploadSeconds;
  return "?size=" + std::to_string(size) + "&user=" + user + "&expires=" + std::to_string(expires) +
         "&sig=" + UploadSignature(oid, size, user, expires);
}

// An object's entry: no action when the caller may name the content already, else an upload:
// one PUT, or parts and a completion (`*multipart` set) for an object over `parts_above`.
Result<json> BatchObject(const RequestContext& context, const json& object, uint64_t parts_above,
                         bool* multipart) {
  *multipart = false;
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
  std::string query = SignedQuery(oid, size, user);
  json upload = {{"href", context.origin + "/api/lfs-upload/" + oid + query},
                 {"expires_in", kUploadSeconds}};
  if (size > parts_above) {
    *multipart = true;
    json header = {{"chunk_size", std::to_string(kPartBytes)}};
    for (uint64_t part = 1; part <= PartCount(size); ++part) {
      char key[16];
      std::snprintf(key, sizeof key, "%05llu", static_cast<unsigned long long>(part));
      header[key] = upload["href"].get<std::string>() + "&part=" + std::to_string(part);
    }
    upload = {{"href", context.origin + "/api/lfs-complete/" + oid + query},
              {"header", std::move(header)},
              {"expires_in", kUploadSeconds}};
  }
  entry["authenticated"] = true;
  entry["actions"] = {
      {"upload", std::move(upload)},
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

// Who may upload what, as an upload or completion URL says.
struct Ticket {
  uint64_t size = 0;
  std::string user;
};

// The URL's ticket, or nullopt with `*refusal` set: it is not signed (or expired), or this
// server does not publish.
std::optional<Ticket> CheckTicket(const RequestContext& context, Response* refusal) {
  auto size = Number(context.route.query, "size");
  auto expires = Number(context.route.query, "expires");
  Ticket ticket;
  ticket.user = QueryValue(context.route.query, "user").value_or("");
  std::string signature = QueryValue(context.route.query, "sig").value_or("");
  if (!size || !expires ||
      !ValidUploadSignature(context.route.item, *size, ticket.user, *expires, signature)) {
    *refusal = ErrorResponse(
        ApiError::kForbidden,
        "this upload URL is not valid (or has expired): ask the batch API again", true);
    return std::nullopt;
  }
  if (context.publisher == nullptr) {
    *refusal = ErrorResponse(ApiError::kServiceUnavailable, "this server does not publish", true);
    return std::nullopt;
  }
  ticket.size = static_cast<uint64_t>(*size);
  return ticket;
}

// An upload that cannot go on: the client's doing (wrong bytes: 400; parts missing, or one
// being sent twice at once: 409), never a 5xx that the clients would retry as it is.
Response UploadRefusal(const Status& status) {
  switch (status.code()) {
    case StatusCode::kCorrupt:
      return ErrorResponse(ApiError::kBadRequest, status.message(), true);
    case StatusCode::kFailedPrecondition:
      return ErrorResponse(ApiError::kConflict, status.message(), true);
    default:
      return ErrorFromStatus(status, true);
  }
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
  bool parts_offered = false;
  if (auto transfers = body->find("transfers"); transfers != body->end() && transfers->is_array()) {
    for (const auto& transfer : *transfers)
      parts_offered = parts_offered || transfer == "multipart";
  }
  // Objects over this size go in parts (never, when the client cannot send parts).
  uint64_t parts_above =
      parts_offered ? std::max(kPartBytes, context.publisher->Limits().multipart_above_bytes)
                    : UINT64_MAX;
  json answer = json::array();
  uint64_t adding = 0;
  std::vector<size_t> in_parts;  // indices into `answer`, which grows
  for (const auto& object : *objects) {
    bool multipart = false;
    auto entry = BatchObject(context, object, parts_above, &multipart);
    if (!entry.ok()) return ErrorFromStatus(entry.status(), true);
    if (entry->contains("actions")) adding += (*entry)["size"].get<uint64_t>();
    answer.push_back(std::move(entry.value()));
    if (multipart) in_parts.push_back(answer.size() - 1);
  }
  // Refused before any byte is sent: the uploads would take the namespace over its quota.
  if (auto refusal = QuotaRefusal(context, *repo, adding)) return std::move(*refusal);
  for (size_t index : in_parts) {
    const json& entry = answer[index];
    Status begun = context.publisher->BeginMultipart(entry["oid"].get<std::string>(),
                                                     entry["size"].get<uint64_t>(), kPartBytes,
                                                     context.caller.name());
    if (!begun.ok()) return ErrorFromStatus(begun, true);
  }
  // Never "xet": the clients would then upload through Xet, which this server does not have.
  // The clients tell a multipart object by its `chunk_size`, whatever this says.
  return LfsJson({{"transfer", in_parts.empty() ? "basic" : "multipart"},
                  {"objects", std::move(answer)},
                  {"hash_algo", "sha256"}});
}

Response HandleLfsUpload(const RequestContext& context) {
  const std::string& oid = context.route.item;
  Response refusal;
  auto ticket = CheckTicket(context, &refusal);
  if (!ticket) return refusal;
  auto part = Number(context.route.query, "part");
  uint64_t length = ticket->size;
  if (part) {
    if (*part < 1 || static_cast<uint64_t>(*part) > PartCount(ticket->size)) {
      return ErrorResponse(ApiError::kBadRequest,
                           "part " + std::to_string(*part) + " is not among the " +
                               std::to_string(PartCount(ticket->size)) + " parts of " + oid,
                           true);
    }
    uint64_t offset = static_cast<uint64_t>(*part - 1) * kPartBytes;
    length = std::min(kPartBytes, ticket->size - offset);
  }
  auto declared = context.request.find(http::field::content_length);
  if (declared == context.request.end() || declared->value() != std::to_string(length)) {
    return ErrorResponse(ApiError::kBadRequest,
                         "the upload of " + oid + (part ? " part " + std::to_string(*part) : "") +
                             " must send exactly " + std::to_string(length) +
                             " bytes with a Content-Length",
                         true);
  }
  auto sink = part ? context.publisher->BeginPart(oid, ticket->user, static_cast<uint32_t>(*part))
                   : context.publisher->BeginUpload(oid, ticket->size, ticket->user);
  if (!sink.ok()) return UploadRefusal(sink.status());
  Response response = JsonResponse(json::object());
  if (part) {
    response.Set("ETag", PartTag(static_cast<uint64_t>(*part)));
    response.Set("Access-Control-Expose-Headers", "ETag");
  }
  response.upload = std::move(sink.value());
  return response;
}

Response HandleLfsComplete(const RequestContext& context) {
  const std::string& oid = context.route.item;
  Response refusal;
  auto ticket = CheckTicket(context, &refusal);
  if (!ticket) return refusal;
  auto body = JsonObjectBody(context);
  if (!body.ok()) return ErrorFromStatus(body.status(), true);
  auto parts = body->find("parts");
  bool named = body->value("oid", json()) == oid;
  if (!named || parts == body->end() || !parts->is_array() ||
      parts->size() != PartCount(ticket->size)) {
    return ErrorResponse(ApiError::kBadRequest,
                         "the completion of " + oid + " names its oid and its " +
                             std::to_string(PartCount(ticket->size)) + " parts",
                         true);
  }
  for (size_t index = 0; index < parts->size(); ++index) {
    const json& part = (*parts)[index];
    if (!part.is_object() || part.value("partNumber", json()) != index + 1 ||
        part.value("etag", json()) != PartTag(index + 1)) {
      return ErrorResponse(ApiError::kBadRequest,
                           "part " + std::to_string(index + 1) + " of the completion of " + oid +
                               " needs \"partNumber\" and the \"etag\" its upload answered",
                           true);
    }
  }
  Status completed = context.publisher->CompleteMultipart(oid, ticket->user);
  if (!completed.ok()) return UploadRefusal(completed);
  return LfsJson(json::object());
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
