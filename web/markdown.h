#pragma once

#include <string>
#include <string_view>

namespace hubmirror::web {

// Where a card's relative links and images point: files of the revision shown.
struct CardContext {
  // The download address of the revision's root, ending in '/' ("/org/name/resolve/COMMIT/").
  std::string file_base;
  // Whether the reader may download the repo's files: when not (a gated repo without access),
  // relative images become links too, rather than requests that would be refused.
  bool files_readable = true;
};

// Cards larger than this are shown as their first kMaxCardBytes.
inline constexpr size_t kMaxCardBytes = 256 * 1024;

// A README.md rendered as HTML for a page, by cmark-gfm (tables, strikethrough, autolinks, task
// lists), safely: the YAML front matter is left out; raw HTML is dropped and dangerous URLs
// (javascript:, data: other than images...) emptied, as cmark-gfm's safe mode does; images from
// other hosts become links to them, so a page never loads remote content; relative links and
// images point at the revision's files; every link carries rel="noopener noreferrer nofollow".
// The card is hostile input: any bytes give HTML that runs no script. Thread-safe (cards render
// one at a time: cmark-gfm's extensions change global tables while parsing).
std::string RenderCard(std::string_view readme, const CardContext& context);

}  // namespace hubmirror::web
