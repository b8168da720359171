// Native integrity endpoints: /api/integrity/key and /api/integrity/{type}s/{repo}/{rev}.
#include "api/access.h"
#include "api/handler_support.h"
#include "api/manifest.h"

namespace hubmirror::api {

// The PEM itself, so that `curl -o key.pem` gives what `hubmirror check --key` takes.
Response HandleIntegrityKey(const RequestContext& context) {
  Response response;
  response.Set("Content-Type", "application/x-pem-file");
  response.Set("X-Key-Id", context.signing_key.key_id());
  response.body = context.signing_key.PublicPem();
  return response;
}

// A manifest lists digests, not content: a gated repo's is public, a hidden repo's is not.
Response HandleIntegrityManifest(const RequestContext& context) {
  RepoRight right = RepoRight::kNone;
  auto visible = FindVisibleRepo(context, context.route.type, context.route.repo, &right);
  if (!visible.ok()) return ErrorFromStatus(visible.status(), true);
  auto document = SignedManifest(context.registry, context.signing_key, context.route.type,
                                 context.route.repo, context.route.revision);
  if (document.status().code() == StatusCode::kFailedPrecondition) {
    return ErrorResponse(ApiError::kBlobUnavailable, document.status().message(), true);
  }
  if (!document.ok()) return ErrorFromStatus(document.status(), true);
  return JsonResponse(*document);
}

}  // namespace hubmirror::api
