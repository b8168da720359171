// Fuzzes the rendering of model cards (README.md from strangers): any bytes must give HTML with
// no script, event handler or javascript: URL, and never a crash or a hang.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "web/markdown.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string card(reinterpret_cast<const char*>(data), size);
  hubmirror::web::CardContext context{"/acme/m/resolve/0123/", (size & 1) != 0};
  std::string html = hubmirror::web::RenderCard(card, context);
  for (const char* banned : {"<script", "<iframe", "javascript:", " onerror=", " onload="}) {
    if (html.find(banned) != std::string::npos) std::abort();
  }
  return 0;
}
