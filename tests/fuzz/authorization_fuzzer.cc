// Fuzzes the reading of Authorization header values (Bearer, and Basic with the token as the
// password): any bytes a client sends must give a token or nothing, never a crash or an
// out-of-bounds read while decoding base64.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/tokens.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view header(reinterpret_cast<const char*>(data), size);
  if (auto token = hubmirror::TokenFromAuthorization(header)) {
    (void)hubmirror::LooksLikeTokenSecret(*token);
  }
  return 0;
}
