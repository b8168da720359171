#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hubmirror {

// Which files the Hub stores with Git LFS, the same for `import`, preupload and commits.

// Files larger than this always go to LFS, as on the Hub.
inline constexpr uint64_t kLfsSizeThreshold = 10ull << 20;

// Whether a file goes to LFS: it matches one of `patterns` (gitattributes globs: a pattern
// without '/' matches the file name, one with '/' the whole path) or is over kLfsSizeThreshold.
bool IsLfsFile(const std::string& path, uint64_t size, const std::vector<std::string>& patterns);
// The Hub's default `.gitattributes` patterns.
std::vector<std::string> DefaultLfsPatterns();
// The `filter=lfs` patterns of a `.gitattributes` file.
std::vector<std::string> ParseLfsPatterns(std::string_view gitattributes);
// The `.gitattributes` a new repo starts with: every default pattern with filter=lfs.
std::string DefaultGitattributes();

}  // namespace hubmirror
