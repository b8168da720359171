#pragma once

#include <toml++/toml.h>

#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"

namespace hubmirror::cli {

// Reads one TOML file's values (the config of `serve --config` and the commands that take it)
// with errors that name the file and the key. Not thread-safe.
class ConfigReader {
 public:
  explicit ConfigReader(std::string file) : file_(std::move(file)) {}

  Status Fail(const std::string& key, const std::string& problem) const {
    return InvalidArgument(file_ + ": " + key + ": " + problem);
  }

  Status CheckKeys(const toml::table& table, const std::string& where,
                   const std::set<std::string>& allowed) const {
    for (const auto& [key, value] : table) {
      if (!allowed.count(std::string(key.str()))) {
        return Fail(where.empty() ? std::string(key.str()) : where + "." + std::string(key.str()),
                    "unknown key");
      }
    }
    return Status::Ok();
  }

  Status String(const toml::table& table, const std::string& where, const char* key,
                std::string* out) const {
    const toml::node* node = table.get(key);
    if (node == nullptr) return Status::Ok();
    if (!node->is_string()) return Fail(where + "." + key, "must be a string");
    *out = node->as_string()->get();
    return Status::Ok();
  }

  template <typename Int>
  Status Integer(const toml::table& table, const std::string& where, const char* key, Int* out,
                 int64_t min, int64_t max) const {
    const toml::node* node = table.get(key);
    if (node == nullptr) return Status::Ok();
    if (!node->is_integer()) return Fail(where + "." + key, "must be an integer");
    int64_t value = node->as_integer()->get();
    if (value < min || value > max) {
      return Fail(where + "." + key,
                  "must be between " + std::to_string(min) + " and " + std::to_string(max));
    }
    *out = static_cast<Int>(value);
    return Status::Ok();
  }

  Status Bool(const toml::table& table, const std::string& where, const char* key,
              bool* out) const {
    const toml::node* node = table.get(key);
    if (node == nullptr) return Status::Ok();
    if (!node->is_boolean()) return Fail(where + "." + key, "must be true or false");
    *out = node->as_boolean()->get();
    return Status::Ok();
  }

  Status Strings(const toml::table& table, const std::string& where, const char* key,
                 std::vector<std::string>* out) const {
    const toml::node* node = table.get(key);
    if (node == nullptr) return Status::Ok();
    const toml::array* array = node->as_array();
    if (array == nullptr) return Fail(where + "." + key, "must be an array of strings");
    out->clear();  // a list given replaces the default
    for (const auto& item : *array) {
      if (!item.is_string()) return Fail(where + "." + key, "must be an array of strings");
      out->push_back(item.as_string()->get());
    }
    return Status::Ok();
  }

 private:
  std::string file_;
};

// The table `key` of `root`, or null when absent (or not a table).
const toml::table* Table(const toml::table& root, const char* key);

// The parsed file; kInvalidArgument naming the file, line and column of a syntax error.
Result<toml::table> ParseFile(const std::filesystem::path& path);

}  // namespace hubmirror::cli
