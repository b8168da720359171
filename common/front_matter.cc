#include "common/front_matter.h"

namespace hubmirror {

std::optional<FrontMatterSplit> SplitFrontMatter(std::string_view readme) {
  if (readme.substr(0, 3) != "---") return std::nullopt;
  size_t first_newline = readme.find('\n');
  if (first_newline == std::string_view::npos) return std::nullopt;
  std::string_view opening = readme.substr(0, first_newline);
  if (opening != "---" && opening != "---\r") return std::nullopt;
  size_t body_start = first_newline + 1;
  size_t line_start = body_start;
  while (line_start <= readme.size()) {
    size_t line_end = readme.find('\n', line_start);
    std::string_view line =
        readme.substr(line_start, line_end == std::string_view::npos ? std::string_view::npos
                                                                     : line_end - line_start);
    if (line == "---" || line == "---\r") {
      std::string_view rest =
          line_end == std::string_view::npos ? std::string_view() : readme.substr(line_end + 1);
      return FrontMatterSplit{readme.substr(body_start, line_start - body_start), rest, true};
    }
    if (line_end == std::string_view::npos) break;
    line_start = line_end + 1;
  }
  return FrontMatterSplit{readme.substr(body_start), std::string_view(), false};
}

}  // namespace hubmirror
