#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli/config_file.h"

namespace hubmirror::cli {

// The configuration in effect as JSON (GET /api/admin/config, `hubmirror jobs config`): one
// object per table of the config file, under the file's own names, plus `config_file`. Defaults
// are filled in, so it says what the daemon does, not only what the file sets. The upstream's
// token is never in it: `token` says only whether one is set, `token_env` where it came from.
nlohmann::json EffectiveConfigJson(const std::filesystem::path& config_file,
                                   const DaemonConfig& config);

}  // namespace hubmirror::cli
