#include "common/git_refs.h"

#include <array>
#include <utility>

#include "common/names.h"

namespace hubmirror {
namespace {

// Each kind with its prefix in full git names.
constexpr std::array<std::pair<RefKind, std::string_view>, 4> kPrefixes = {{
    {RefKind::kBranch, "refs/heads/"},
    {RefKind::kTag, "refs/tags/"},
    {RefKind::kPullRequest, "refs/pr/"},
    {RefKind::kConvert, "refs/convert/"},
}};

std::string_view PrefixOf(RefKind kind) {
  for (const auto& [candidate, prefix] : kPrefixes) {
    if (candidate == kind) return prefix;
  }
  return "";
}

bool IsAsciiDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

std::string_view RefKindName(RefKind kind) {
  switch (kind) {
    case RefKind::kBranch:
      return "branch";
    case RefKind::kTag:
      return "tag";
    case RefKind::kPullRequest:
      return "pr";
    case RefKind::kConvert:
      return "convert";
  }
  return "branch";
}

bool ParseRefKind(std::string_view text, RefKind* kind) {
  for (const auto& [candidate, prefix] : kPrefixes) {
    if (text == RefKindName(candidate)) {
      *kind = candidate;
      return true;
    }
  }
  return false;
}

std::string FullRefName(const RefName& ref) { return std::string(PrefixOf(ref.kind)) + ref.name; }

std::string RefRevision(const RefName& ref) {
  return ref.kind == RefKind::kBranch || ref.kind == RefKind::kTag ? ref.name : FullRefName(ref);
}

std::optional<RefName> ParseFullRefName(std::string_view text) {
  for (const auto& [kind, prefix] : kPrefixes) {
    if (text.size() > prefix.size() && text.starts_with(prefix)) {
      return RefName{kind, std::string(text.substr(prefix.size()))};
    }
  }
  return std::nullopt;
}

Status ValidateRefName(const RefName& ref) {
  auto bad = [&](const std::string& why) {
    return InvalidArgument("invalid ref '" + FullRefName(ref).substr(0, 200) + "': " + why);
  };
  switch (ref.kind) {
    case RefKind::kBranch:
    case RefKind::kTag:
      if (ref.name.starts_with("refs/")) return bad("a branch or tag name cannot start with refs/");
      return ValidateRevisionName(ref.name);
    case RefKind::kPullRequest:
      if (ref.name.empty() || ref.name.size() > 18 || ref.name.front() == '0') {
        return bad("a pull request is a positive decimal number");
      }
      for (char c : ref.name) {
        if (!IsAsciiDigit(c)) return bad("a pull request is a positive decimal number");
      }
      return Status::Ok();
    case RefKind::kConvert:
      if (ref.name.empty() || ref.name.size() > 64) return bad("empty or too long");
      for (char c : ref.name) {
        bool word = IsAsciiDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    c == '-' || c == '_';
        if (!word) return bad("a conversion name is letters, digits, '-' and '_'");
      }
      return Status::Ok();
  }
  return bad("unknown kind");
}

}  // namespace hubmirror
