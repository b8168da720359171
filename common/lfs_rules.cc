#include "common/lfs_rules.h"

#include <fnmatch.h>

#include <sstream>

namespace hubmirror {
namespace {

bool MatchesLfsPattern(const std::string& path, const std::string& pattern) {
  if (pattern.find('/') != std::string::npos) {
    std::string anchored = pattern.front() == '/' ? pattern.substr(1) : pattern;
    return ::fnmatch(anchored.c_str(), path.c_str(), 0) == 0;
  }
  std::string name = path.substr(path.rfind('/') + 1);
  return ::fnmatch(pattern.c_str(), name.c_str(), 0) == 0;
}

}  // namespace

std::vector<std::string> DefaultLfsPatterns() {
  return {"*.7z",      "*.arrow",       "*.bin",
          "*.bz2",     "*.ckpt",        "*.ftz",
          "*.gguf",    "*.gz",          "*.h5",
          "*.joblib",  "*.lfs.*",       "*.mlmodel",
          "*.model",   "*.msgpack",     "*.npy",
          "*.npz",     "*.onnx",        "*.ot",
          "*.parquet", "*.pb",          "*.pickle",
          "*.pkl",     "*.pt",          "*.pth",
          "*.rar",     "*.safetensors", "saved_model/**/*",
          "*.tar.*",   "*.tar",         "*.tflite",
          "*.tgz",     "*.wasm",        "*.xz",
          "*.zip",     "*.zst",         "*tfevents*"};
}

std::vector<std::string> ParseLfsPatterns(std::string_view gitattributes) {
  std::vector<std::string> patterns;
  std::istringstream lines{std::string(gitattributes)};
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::string pattern;
    if (!(words >> pattern) || pattern[0] == '#') continue;
    for (std::string attribute; words >> attribute;) {
      if (attribute == "filter=lfs") patterns.push_back(pattern);
    }
  }
  return patterns;
}

bool IsLfsFile(const std::string& path, uint64_t size, const std::vector<std::string>& patterns) {
  if (size > kLfsSizeThreshold) return true;
  for (const auto& pattern : patterns) {
    if (MatchesLfsPattern(path, pattern)) return true;
  }
  return false;
}

std::string DefaultGitattributes() {
  std::string text;
  for (const auto& pattern : DefaultLfsPatterns()) {
    text += pattern + " filter=lfs diff=lfs merge=lfs -text\n";
  }
  return text;
}

}  // namespace hubmirror
