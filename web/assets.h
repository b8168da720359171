#pragma once

#include <string_view>
#include <vector>

namespace hubmirror::web {

// A file the pages load from this server (/-/assets/{name}): compiled into the binary from
// web/assets/, so that nothing comes from another host.
struct Asset {
  std::string_view name;
  std::string_view content;
};

// Every asset, in a fixed order. Thread-safe.
const std::vector<Asset>& Assets();

}  // namespace hubmirror::web
