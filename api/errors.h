#pragma once

#include <boost/beast/http.hpp>
#include <string_view>

#include "common/status.h"

namespace hubmirror::api {

// The errors the API answers with. Each has exactly one HTTP status and one X-Error-Code,
// defined in one table (errors.cc); handlers never pick statuses themselves.
enum class ApiError {
  kRepoNotFound,
  kRevisionNotFound,
  kEntryNotFound,
  kBadRequest,
  kRangeNotSatisfiable,
  kRouteNotFound,
  kMethodNotAllowed,
  kPayloadTooLarge,
  kHeadersTooLarge,
  kUnauthorized,              // no token where one is needed, or one that is not valid here
  kGatedRepoUnauthenticated,  // gated content asked for without a token (401 GatedRepo)
  kGatedRepoForbidden,        // gated content asked for with a token that has no access (403)
  kForbidden,                 // the caller may read but not do this (a read token, no role)
  kConflict,                  // a name already taken (a user, an organization, a token)
  kTooManyRequests,
  kBlobUnavailable,      // the registry knows the file but its bytes are missing from the store
  kServiceUnavailable,   // this server cannot make the change asked for (no registry writer)
  kUpstreamUnavailable,  // pull-through: the upstream cannot be reached or failed (504)
  kUpstreamRateLimited,  // pull-through: the upstream asked the mirror to wait (503, Retry-After)
  kInternal,
};

struct ApiErrorInfo {
  boost::beast::http::status status;
  std::string_view code;  // X-Error-Code
};

ApiErrorInfo Describe(ApiError error);
// The API error for a module Status (kRepoNotFound -> RepoNotFound, kInvalidArgument -> 400,
// kAlreadyExists -> 409...).
ApiError FromStatus(const Status& status);

}  // namespace hubmirror::api
