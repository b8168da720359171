// Fuzzes the reading of an admin's POST /api/admin/jobs body: any bytes, once parsed as JSON,
// must give a job request or a 400's message, never a crash or an exception (a field of the
// wrong type, a number out of range, a huge or nested body).
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "api/job_request.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  nlohmann::json body = nlohmann::json::parse(data, data + size, nullptr, false);
  if (body.is_discarded()) return 0;
  auto request = hubmirror::api::ParseJobRequest(body);
  if (request.ok()) {
    (void)hubmirror::api::JobKindName(request->kind);
  } else {
    (void)request.status().message().size();
  }
  return 0;
}
