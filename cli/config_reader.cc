#include "cli/config_reader.h"

namespace hubmirror::cli {

const toml::table* Table(const toml::table& root, const char* key) {
  const toml::node* node = root.get(key);
  return node == nullptr ? nullptr : node->as_table();
}

Result<toml::table> ParseFile(const std::filesystem::path& path) {
  try {
    return toml::parse_file(path.string());
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    return InvalidArgument(path.string() + ":" + std::to_string(where.line) + ":" +
                           std::to_string(where.column) + ": " + std::string(e.description()));
  }
}

}  // namespace hubmirror::cli
