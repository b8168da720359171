#pragma once

#include <optional>
#include <string_view>

namespace hubmirror {

// A README.md split at its YAML front matter: the lines between a leading `---` line and the
// next `---` line (`yaml`), and the Markdown after that closing line (`body`). `closed` is false
// when no closing line follows; `yaml` then runs to the end and `body` is empty.
struct FrontMatterSplit {
  std::string_view yaml;
  std::string_view body;
  bool closed = false;
};

// nullopt when the README does not open with a `---` line. Views into `readme`. Pure function.
std::optional<FrontMatterSplit> SplitFrontMatter(std::string_view readme);

}  // namespace hubmirror
