// Fuzzes README front matter parsing and what is derived from it (tags, lineage): hostile model
// cards must give an error or a value, never a crash or an unbounded recursion.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sync/model_card.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view readme(reinterpret_cast<const char*>(data), size);
  auto card = hubmirror::sync::ParseFrontMatter(readme);
  if (card.ok()) {
    auto info = hubmirror::sync::DeriveCardInfo("fuzz/model", *card, {"model.gguf"});
    (void)card->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    (void)info;
  }
  return 0;
}
