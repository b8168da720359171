// Fuzzes the reading of a commit's NDJSON body (POST /api/{type}s/{repo}/commit/{rev}): any bytes
// a client sends must give a commit request with valid paths, or a 422's message, never a crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "api/commit_request.h"
#include "common/names.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  auto request = hubmirror::api::ParseCommitRequest(body);
  if (request.ok()) {
    for (const auto& op : request->operations) {
      // Every path that comes out is one the store may name.
      if (!hubmirror::ValidateRepoPath(op.path).ok()) __builtin_trap();
    }
  }
  return 0;
}
