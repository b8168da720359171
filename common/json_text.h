#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace hubmirror {

// JSON as compact text (no spaces, object keys sorted as nlohmann keeps them), with invalid
// UTF-8 from strangers (cards, clients, upstreams) replaced rather than thrown on. What the
// registry stores, responses carry, and signatures are made over (CanonicalJson).
inline std::string CompactJson(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace hubmirror
