#include "common/files.h"

#include <fstream>
#include <sstream>

namespace hubmirror {

Result<std::string> ReadTextFile(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return Status(StatusCode::kNotFound, path.string() + " does not exist");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return IoError("cannot read " + path.string());
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) return IoError("cannot read " + path.string());
  return contents.str();
}

}  // namespace hubmirror
