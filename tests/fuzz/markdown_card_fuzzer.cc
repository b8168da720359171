// Fuzzes the rendering of model cards (README.md from strangers): any bytes must give HTML whose
// tags (the only '<' in it: text is escaped) run nothing: no script, frame, object or style
// element, no event handler attribute, no javascript:, vbscript: or non-image data: URL. Never a
// crash or a hang either.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "web/markdown.h"

namespace {

std::string Lower(std::string_view text) {
  std::string lower(text);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower;
}

// A tag as the renderer writes it: <name attr="value" ...>, values double-quoted, escaped.
void CheckTag(std::string_view tag) {
  std::string lower = Lower(tag);
  for (const char* element : {"<script", "<iframe", "<object", "<embed", "<style", "<frame",
                              "<form", "<meta", "<base", "<svg", "<math"}) {
    if (lower.starts_with(element)) std::abort();
  }
  size_t at = lower.find_first_of(" />");
  while (at < lower.size()) {
    at = lower.find_first_not_of(" /", at);
    if (at == std::string::npos || lower[at] == '>') return;
    size_t name_end = lower.find_first_of("= />", at);
    if (name_end == std::string::npos) std::abort();
    std::string name = lower.substr(at, name_end - at);
    if (name.starts_with("on")) std::abort();  // an event handler
    at = name_end;
    if (lower[at] != '=') continue;
    if (lower[at + 1] != '"') std::abort();  // the renderer quotes every value
    size_t value_end = lower.find('"', at + 2);
    if (value_end == std::string::npos) std::abort();
    std::string value = lower.substr(at + 2, value_end - at - 2);
    if (name == "href" || name == "src") {
      for (const char* scheme : {"javascript:", "vbscript:", "data:text", "data:image/svg"}) {
        if (value.starts_with(scheme)) std::abort();
      }
    }
    at = value_end + 1;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string card(reinterpret_cast<const char*>(data), size);
  hubmirror::web::CardContext context{"/acme/m/resolve/0123/", (size & 1) != 0};
  std::string html = hubmirror::web::RenderCard(card, context);
  for (size_t open = html.find('<'); open != std::string::npos; open = html.find('<', open + 1)) {
    size_t close = html.find('>', open);
    if (close == std::string::npos) std::abort();  // a tag left open
    CheckTag(std::string_view(html).substr(open, close - open + 1));
  }
  return 0;
}
