// Fuzzes request-target routing: decoding, validation and endpoint matching must never crash,
// and whatever is accepted must be a valid repo id and path.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "api/router.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view target(reinterpret_cast<const char*>(data), size);
  auto route = hubmirror::api::MatchRoute(target);
  if (route.ok()) {
    if (!route->repo.empty() && !hubmirror::ValidateRepoId(route->repo).ok()) std::abort();
    // ValidateRepoPath refuses "." and ".." segments, absolute paths and control characters.
    if (!route->path.empty() && !hubmirror::ValidateRepoPath(route->path).ok()) std::abort();
  }
  return 0;
}
