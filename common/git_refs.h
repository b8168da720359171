#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace hubmirror {

// The kinds of git refs the Hub shows (hub-protocol.md §3.4): branches, tags, pull requests
// (`refs/pr/N`) and conversions (`refs/convert/NAME`, e.g. a dataset's parquet export). Stored
// and exchanged as the text of RefKindName.
enum class RefKind { kBranch, kTag, kPullRequest, kConvert };
std::string_view RefKindName(RefKind kind);  // "branch", "tag", "pr", "convert"
bool ParseRefKind(std::string_view text, RefKind* kind);

// A ref by kind and short name: "main", "v1.0", "16" (a pull request's number), "parquet".
// Pure value functions below; safe from any thread.
struct RefName {
  RefKind kind = RefKind::kBranch;
  std::string name;

  bool operator==(const RefName&) const = default;
  auto operator<=>(const RefName&) const = default;
};

// The full git name: "refs/heads/main", "refs/tags/v1.0", "refs/pr/16", "refs/convert/parquet".
std::string FullRefName(const RefName& ref);
// How a revision names the ref on the Hub: a branch's or tag's name as it is, "refs/pr/N" and
// "refs/convert/NAME" for the others.
std::string RefRevision(const RefName& ref);
// The ref a full git name denotes ("refs/heads/B", "refs/tags/T", "refs/pr/N",
// "refs/convert/NAME"), or nullopt for any other text, a plain branch or tag name included.
std::optional<RefName> ParseFullRefName(std::string_view text);
// kInvalidArgument, naming the ref, unless its name is valid for its kind: a branch or tag
// name (ValidateRevisionName, not starting with "refs/"), a pull request number (decimal
// digits, no leading zero), a conversion name (letters, digits, '-' and '_').
Status ValidateRefName(const RefName& ref);

}  // namespace hubmirror
