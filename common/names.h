#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace hubmirror {

// Validation of names that come from users, upstreams and clients. Names are kept literal
// (spaces, backslashes and other printable characters are legal in Hub file names); what is
// refused is what could escape a directory or break a protocol line. Pure functions.

inline constexpr size_t kMaxRepoNamePart = 96;
inline constexpr size_t kMaxPathBytes = 4096;
inline constexpr size_t kMaxPathSegmentBytes = 255;
inline constexpr size_t kMaxRevisionBytes = 255;

// `namespace/name` or a legacy single-segment `name`: letters, digits, `-`, `_`, `.`; no `--`
// or `..`; `-` and `.` neither start nor end a part; each part at most 96 characters.
Status ValidateRepoId(std::string_view id);
// A file path inside a repo: `/`-separated non-empty segments, none `.` or `..`, no leading
// or trailing `/`, no NUL or control characters, valid UTF-8, bounded lengths.
Status ValidateRepoPath(std::string_view path);
// A branch or tag name: printable ASCII without space, `~^:?*[\`, no `..`, no empty segment.
Status ValidateRevisionName(std::string_view name);

// A user, organization or token name: one part of a repo id (ValidateRepoId, without '/'), so
// that a user or organization name can be a namespace.
Status ValidateAccountName(std::string_view name);

// The namespace of a repo id (its first part, the user or organization it belongs to), or ""
// for a legacy single-segment id, which belongs to nobody.
std::string_view RepoNamespace(std::string_view id);

// "model" or "dataset" (what the Hub calls a repo type); "models"/"datasets" in URLs.
enum class RepoType { kModel, kDataset };
std::string_view RepoTypeName(RepoType type);
bool ParseRepoType(std::string_view text, RepoType* type);

// Lower-cased copy (ASCII), used for case-insensitive repo id matching as on the Hub.
std::string AsciiLower(std::string_view text);
// Whether two names are equal ignoring ASCII case.
bool EqualsIgnoringCase(std::string_view a, std::string_view b);

}  // namespace hubmirror
