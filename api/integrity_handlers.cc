// Native integrity endpoints: /api/integrity/key and /api/integrity/{type}s/{repo}/{rev}.
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

Response HandleIntegrityManifest(const RequestContext& context) {
  auto document = SignedManifest(context.registry, context.signing_key, context.route.type,
                                 context.route.repo, context.route.revision);
  if (!document.ok()) return ErrorFromStatus(document.status(), true);
  return JsonResponse(*document);
}

}  // namespace hubmirror::api
