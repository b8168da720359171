#include "api/errors.h"

namespace hubmirror::api {

namespace http = boost::beast::http;

ApiErrorInfo Describe(ApiError error) {
  switch (error) {
    case ApiError::kRepoNotFound:
      return {http::status::not_found, "RepoNotFound"};
    case ApiError::kRevisionNotFound:
      return {http::status::not_found, "RevisionNotFound"};
    case ApiError::kEntryNotFound:
      return {http::status::not_found, "EntryNotFound"};
    case ApiError::kBadRequest:
      return {http::status::bad_request, "BadRequest"};
    case ApiError::kRangeNotSatisfiable:
      return {http::status::range_not_satisfiable, "RangeNotSatisfiable"};
    case ApiError::kRouteNotFound:
      return {http::status::not_found, "NotFound"};
    case ApiError::kMethodNotAllowed:
      return {http::status::method_not_allowed, "MethodNotAllowed"};
    case ApiError::kPayloadTooLarge:
      return {http::status::payload_too_large, "PayloadTooLarge"};
    case ApiError::kHeadersTooLarge:
      return {http::status::request_header_fields_too_large, "HeadersTooLarge"};
    case ApiError::kUnauthorized:
      return {http::status::unauthorized, "Unauthorized"};
    case ApiError::kGatedRepoUnauthenticated:
      return {http::status::unauthorized, "GatedRepo"};
    case ApiError::kGatedRepoForbidden:
      return {http::status::forbidden, "GatedRepo"};
    case ApiError::kForbidden:
      return {http::status::forbidden, "Forbidden"};
    case ApiError::kConflict:
      return {http::status::conflict, "Conflict"};
    case ApiError::kTooManyRequests:
      return {http::status::too_many_requests, "TooManyRequests"};
    case ApiError::kBlobUnavailable:
      return {http::status::service_unavailable, "BlobUnavailable"};
    case ApiError::kServiceUnavailable:
      return {http::status::service_unavailable, "ServiceUnavailable"};
    case ApiError::kUpstreamUnavailable:
      return {http::status::gateway_timeout, "UpstreamUnavailable"};
    case ApiError::kUpstreamRateLimited:
      return {http::status::service_unavailable, "UpstreamRateLimited"};
    case ApiError::kInternal:
      break;
  }
  return {http::status::internal_server_error, "InternalError"};
}

ApiError FromStatus(const Status& status) {
  switch (status.code()) {
    case StatusCode::kRepoNotFound:
      return ApiError::kRepoNotFound;
    case StatusCode::kRevisionNotFound:
      return ApiError::kRevisionNotFound;
    case StatusCode::kEntryNotFound:
      return ApiError::kEntryNotFound;
    case StatusCode::kInvalidArgument:
      return ApiError::kBadRequest;
    case StatusCode::kNotFound:
      return ApiError::kRouteNotFound;
    case StatusCode::kAlreadyExists:
      return ApiError::kConflict;
    default:
      return ApiError::kInternal;
  }
}

}  // namespace hubmirror::api
