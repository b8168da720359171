// Fuzzes the parsers of an upstream's JSON answers (repo info with its flags, refs listings,
// tree pages, commit pages, listings) and of its Link headers: a hostile upstream must give an
// error or a value, never a crash nor an invalid name taken for a valid one.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/git_refs.h"
#include "sync/hub_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace hubmirror;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)sync::NextLink(text);
  nlohmann::json body = nlohmann::json::parse(text, nullptr, false);
  if (body.is_discarded()) return 0;
  (void)sync::ParseRevisionInfo(body, "fuzz/model", "fuzz");
  for (const auto& remote : sync::ParseRefs(body)) {
    if (!ValidateRefName(remote.ref).ok()) std::abort();
  }
  (void)sync::ParseFirstCommit(body);
  if (body.is_array()) {
    for (const auto& item : body) {
      (void)sync::ParseTreeEntry(item);
      (void)sync::ParseListedModel(item);
    }
  }
  return 0;
}
