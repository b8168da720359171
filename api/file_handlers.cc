// /resolve and /raw: file bytes with the headers every Hub client relies on (hub-protocol §2.7).
#include "api/access.h"
#include "api/handler_support.h"
#include "common/digest.h"
#include "common/files.h"

namespace hubmirror::api {
namespace {

// How long a redirect to the blob store's own URL stays valid: a download that starts later asks
// again. Long enough for a slow start, short enough that a leaked URL soon stops working.
constexpr int64_t kRedirectSeconds = 3600;

bool EndsWith(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

std::string ContentType(std::string_view path) {
  if (EndsWith(path, ".json")) return "application/json";
  if (EndsWith(path, ".txt") || EndsWith(path, ".md") || EndsWith(path, ".py") ||
      EndsWith(path, ".jinja") || EndsWith(path, ".gitattributes")) {
    return "text/plain; charset=utf-8";
  }
  return "application/octet-stream";
}

// RFC 6266 with both forms: an ASCII fallback (quotes and controls replaced) and the exact
// UTF-8 name percent-encoded.
std::string ContentDisposition(std::string_view path) {
  std::string_view name = path.substr(path.rfind('/') + 1);
  std::string fallback;
  for (char c : name) {
    auto byte = static_cast<unsigned char>(c);
    fallback += (byte < 0x20 || byte >= 0x7f || c == '"' || c == '\\') ? '_' : c;
  }
  return "inline; filename*=UTF-8''" + PercentEncode(name, false) + "; filename=\"" + fallback +
         "\";";
}

// The error for a file whose bytes cannot be served.
Response Unavailable(const RequestContext& context, const registry::Entry& file,
                     const std::string& commit_id, const std::string& why) {
  Response error = ErrorResponse(
      ApiError::kBlobUnavailable,
      "content of " + context.route.repo + "/" + file.path + " (sha256 " + file.sha256 + ") " + why,
      false);
  error.Set("X-Repo-Commit", commit_id);
  return error;
}

// The bytes of a small file, verified before any is sent: this thread's copy while the store's
// has not changed since it was hashed, else read and hashed now. A mismatch is quarantined and
// answered with an error instead of the bytes.
std::optional<Response> ReadVerifiedSmallFile(const RequestContext& context,
                                              const registry::Entry& file,
                                              const std::string& commit_id, std::string* bytes) {
  VerifiedBlobCache* cache = context.verified_blobs;
  std::string fingerprint;
  if (cache != nullptr) {
    auto current = context.store.Fingerprint(file.sha256);
    if (!current.ok()) {
      return Unavailable(context, file, commit_id, "is unavailable: " + current.status().message());
    }
    fingerprint = std::move(current.value());
    if (const std::string* verified = cache->Find(file.sha256, fingerprint)) {
      *bytes = *verified;
      return std::nullopt;
    }
  }
  auto blob = context.store.Open(file.sha256);
  Status read = blob.ok() ? Status::Ok() : blob.status();
  if (read.ok() && blob->size() != file.size) {
    read = Corrupt("has " + std::to_string(blob->size()) + " bytes, expected " +
                   std::to_string(file.size));
  }
  if (read.ok()) {
    bytes->assign(file.size, '\0');
    read = ReadFullyAt(blob->fd(), 0, bytes->data(), bytes->size());
  }
  if (!read.ok()) return Unavailable(context, file, commit_id, "is unavailable: " + read.message());
  std::string actual = Sha256Hex(*bytes);
  if (actual != file.sha256) {
    QuarantineServedBlob(context.store, file.sha256, context.route.repo + "/" + file.path, actual);
    bytes->clear();
    return Unavailable(context, file, commit_id,
                       "failed verification; it is refused until a sync fetches it again");
  }
  if (cache != nullptr) cache->Insert(file.sha256, fingerprint, *bytes);
  return std::nullopt;
}

// A range starting further than this past what a fill has ready is relayed from the upstream
// rather than waited for: clients reading a large file in ranges (or resuming one) must not wait
// for the bytes before theirs, though the relay fetches its bytes a second time.
constexpr uint64_t kRangeWaitBytes = 1u << 20;

// The bytes [first, first + length) of a file whose content is fetched now: from the fill of the
// whole file (started, or joined), or relayed when the range lies far beyond what the fill has.
// A HEAD starts nothing: the headers say what a GET would get.
Response Fetched(const RequestContext& context, const FileToFetch& file, Response response,
                 uint64_t first, uint64_t length, bool partial) {
  PullThrough& pull = *context.pull_through;
  response.file_offset = first;
  response.file_length = length;
  if (context.request.method() == http::verb::head) {
    response.length_only = true;
    return response;
  }
  auto fill = pull.Fill(file);
  if (!fill.ok()) return ErrorFromStatus(fill.status(), false);
  CacheOutcome outcome = CacheOutcome::kFill;
  response.stream = std::move(fill.value());
  if (partial && first > response.stream->Poll(UINT64_MAX, {}).ready + kRangeWaitBytes) {
    auto relay = pull.PassRange(file, first, length);
    if (!relay.ok()) return ErrorFromStatus(relay.status(), false);
    response.stream = std::move(relay.value());
    response.file_offset = 0;
    outcome = CacheOutcome::kPass;
  }
  response.Set("X-Mirror-Cache", std::string(CacheOutcomeName(outcome)));
  pull.Count(outcome, file.type, file.repo);
  return response;
}

}  // namespace

Response HandleResolve(const RequestContext& context, bool raw) {
  const Route& route = context.route;
  auto resolved = context.registry.ResolveFile(route.type, route.repo, route.revision, route.path);
  if (!resolved.ok()) {
    // A revision the repo lacks must not tell a caller that a hidden repo exists.
    RepoRight right = RepoRight::kNone;
    if (resolved.status().code() == StatusCode::kRevisionNotFound) {
      if (auto visible = FindVisibleRepo(context, route.type, route.repo, &right); !visible.ok()) {
        return ErrorFromStatus(visible.status(), false);
      }
    }
    return ErrorFromStatus(resolved.status(), false);
  }
  // File content needs read access; the answers of a hidden repo are those of a missing one.
  auto right = ReadRight(context.caller, context.registry, resolved->repo);
  if (!right.ok()) return ErrorFromStatus(right.status(), false);
  if (*right == RepoRight::kNone) return RepoNotFoundResponse(route.repo, false);
  if (*right == RepoRight::kMetadata) {
    context.access.AuditRefusal(
        {0, 0, context.caller.name(), "content.refused",
         std::string(RepoTypeName(route.type)) + " " + resolved->repo.name + "/" + route.path,
         "refused", context.caller.address, ""});
    return GatedResponse(context.caller, resolved->repo, context.origin, false);
  }
  const std::string& commit_id = resolved->commit_id;
  if (!resolved->entry || resolved->entry->is_directory) {
    Response response = ErrorResponse(ApiError::kEntryNotFound, "Entry not found", false);
    response.Set("X-Repo-Commit", commit_id);
    return response;
  }
  const registry::Entry& file = *resolved->entry;
  const bool serve_pointer = raw && file.lfs;

  Response response;
  std::string etag = "\"" + (file.lfs && !raw ? file.sha256 : file.git_oid) + "\"";
  response.Set("X-Repo-Commit", commit_id);
  response.Set("ETag", etag);
  if (file.lfs && !raw) {
    response.Set("X-Linked-Etag", etag);
    response.Set("X-Linked-Size", std::to_string(file.size));
  }
  response.Set("Accept-Ranges", "bytes");
  response.Set("Content-Type",
               serve_pointer ? "text/plain; charset=utf-8" : ContentType(file.path));
  response.Set("Content-Disposition", ContentDisposition(file.path));

  uint64_t size = file.size;
  // Content not stored (never fetched, or found bad since) comes from the upstream when the
  // request may fetch it.
  const bool fetch =
      !serve_pointer && file.blob_state != registry::BlobState::kOk && context.may_fetch;
  if (serve_pointer) {
    response.body = LfsPointer(file.sha256, file.size);
    size = response.body.size();
  } else if (fetch) {
    // The bytes come later, from the fetch (see below).
  } else if (file.blob_state != registry::BlobState::kOk) {
    return Unavailable(context, file, commit_id,
                       "was found " + std::string(registry::BlobStateName(file.blob_state)) +
                           "; it is refused until a sync fetches it again");
  } else if (auto direct = file.lfs ? context.store.DirectReadUrl(file.sha256, kRedirectSeconds)
                                    : std::nullopt) {
    // The store serves the bytes itself (a presigned object URL), as the Hub's CDN does: the
    // redirect carries the headers the clients read, and they drop their token on the way.
    response.status = http::status::found;
    response.Set("Location", *direct);
    return response;
  } else if (file.size <= VerifiedBlobCache::kMaxBlobBytes) {
    // Small files travel in memory with their header, in one write.
    if (auto error = ReadVerifiedSmallFile(context, file, commit_id, &response.body)) {
      return std::move(*error);
    }
  } else {
    auto blob = context.store.Open(file.sha256);
    if (!blob.ok() || blob->size() != file.size) {
      std::string why = blob.ok() ? "has " + std::to_string(blob->size()) + " bytes, expected " +
                                        std::to_string(file.size)
                                  : blob.status().message();
      return Unavailable(context, file, commit_id, "is unavailable: " + why);
    }
    response.file = std::move(blob.value());
  }

  auto if_none_match = context.request.find(http::field::if_none_match);
  if (if_none_match != context.request.end() && IfNoneMatchMatches(if_none_match->value(), etag)) {
    response.status = http::status::not_modified;
    response.body.clear();
    response.file.reset();
    return response;
  }
  if (context.pull_through != nullptr && !fetch) {
    response.Set("X-Mirror-Cache", std::string(CacheOutcomeName(CacheOutcome::kHit)));
    context.pull_through->Count(CacheOutcome::kHit, route.type, resolved->repo.name);
  }

  ByteRange range{0, size == 0 ? 0 : size - 1};
  auto range_header = context.request.find(http::field::range);
  RangeOutcome outcome = range_header == context.request.end()
                             ? RangeOutcome::kFullBody
                             : ParseRange(range_header->value(), size, &range);
  switch (outcome) {
    case RangeOutcome::kMalformed:
      return ErrorResponse(ApiError::kBadRequest,
                           "malformed Range header (expected one range, bytes=a-b, a- or -n)",
                           false);
    case RangeOutcome::kUnsatisfiable: {
      Response error = ErrorResponse(ApiError::kRangeNotSatisfiable,
                                     "Range starts past the end of the file", false);
      error.Set("Content-Range", "bytes */" + std::to_string(size));
      error.Set("X-Repo-Commit", commit_id);
      return error;
    }
    case RangeOutcome::kPartial:
      response.status = http::status::partial_content;
      response.Set("Content-Range", "bytes " + std::to_string(range.first) + "-" +
                                        std::to_string(range.last) + "/" + std::to_string(size));
      break;
    case RangeOutcome::kFullBody:
      break;
  }
  uint64_t length = size == 0 ? 0 : range.last - range.first + 1;
  if (fetch) {
    FileToFetch source{route.type, resolved->repo.name,         commit_id,   file.path, file.size,
                       file.lfs,   file.lfs ? file.sha256 : "", file.git_oid};
    return Fetched(context, source, std::move(response), range.first, length,
                   outcome == RangeOutcome::kPartial);
  }
  if (response.file) {
    response.file_offset = range.first;
    response.file_length = length;
    if (outcome == RangeOutcome::kFullBody && size < context.verify_below_bytes) {
      response.verify_sha256 = file.sha256;
      response.verify_what = route.repo + "/" + file.path;
    }
  } else {
    response.body = response.body.substr(range.first, length);
  }
  return response;
}

}  // namespace hubmirror::api
