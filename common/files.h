#pragma once

#include <filesystem>
#include <string>

#include "common/status.h"

namespace hubmirror {

// The whole content of a (small) file: a card, a manifest, a key. kNotFound when it does not
// exist, kIoError when it cannot be read.
Result<std::string> ReadTextFile(const std::filesystem::path& path);

}  // namespace hubmirror
