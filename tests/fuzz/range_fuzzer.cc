// Fuzzes Range and If-None-Match parsing: a satisfiable range always lies inside the file.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "api/http_parsing.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view header(reinterpret_cast<const char*>(data), size);
  for (uint64_t file_size : {uint64_t{0}, uint64_t{1}, uint64_t{1000}, UINT64_MAX / 2}) {
    hubmirror::api::ByteRange range;
    if (hubmirror::api::ParseRange(header, file_size, &range) ==
        hubmirror::api::RangeOutcome::kPartial) {
      if (range.first > range.last || range.last >= file_size) std::abort();
    }
  }
  hubmirror::api::IfNoneMatchMatches(header, "\"abc\"");
  return 0;
}
