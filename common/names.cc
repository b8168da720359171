#include "common/names.h"

namespace hubmirror {
namespace {

bool IsRepoNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.';
}

Status ValidateRepoNamePart(std::string_view part, std::string_view whole) {
  auto bad = [&](const std::string& why) {
    return InvalidArgument("invalid repo id '" + std::string(whole) + "': " + why);
  };
  if (part.empty()) return bad("empty name");
  if (part.size() > kMaxRepoNamePart) return bad("a part is longer than 96 characters");
  for (char c : part) {
    if (!IsRepoNameChar(c)) return bad("only letters, digits, '-', '_' and '.' are allowed");
  }
  if (part.find("--") != std::string_view::npos || part.find("..") != std::string_view::npos) {
    return bad("'--' and '..' are forbidden");
  }
  for (char edge : {part.front(), part.back()}) {
    if (edge == '-' || edge == '.') return bad("'-' and '.' cannot start or end a name");
  }
  return Status::Ok();
}

// Returns the length of the UTF-8 sequence starting at text[i], or 0 when it is malformed.
size_t Utf8SequenceLength(std::string_view text, size_t i) {
  auto byte = static_cast<unsigned char>(text[i]);
  size_t length = byte < 0x80           ? 1
                  : (byte >> 5) == 0x6  ? 2
                  : (byte >> 4) == 0xe  ? 3
                  : (byte >> 3) == 0x1e ? 4
                                        : 0;
  if (length == 0 || i + length > text.size()) return 0;
  for (size_t k = 1; k < length; ++k) {
    if ((static_cast<unsigned char>(text[i + k]) & 0xc0) != 0x80) return 0;
  }
  return length;
}

}  // namespace

Status ValidateRepoId(std::string_view id) {
  size_t slash = id.find('/');
  if (slash == std::string_view::npos) return ValidateRepoNamePart(id, id);
  if (id.find('/', slash + 1) != std::string_view::npos) {
    return InvalidArgument("invalid repo id '" + std::string(id) + "': at most one '/'");
  }
  HM_RETURN_IF_ERROR(ValidateRepoNamePart(id.substr(0, slash), id));
  return ValidateRepoNamePart(id.substr(slash + 1), id);
}

Status ValidateRepoPath(std::string_view path) {
  auto bad = [&](const std::string& why) {
    std::string shown(path.substr(0, 200));
    for (char& c : shown) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
    }
    return InvalidArgument("invalid path '" + shown + "': " + why);
  };
  if (path.empty()) return bad("empty path");
  if (path.size() > kMaxPathBytes) return bad("longer than 4096 bytes");
  for (size_t i = 0; i < path.size();) {
    auto byte = static_cast<unsigned char>(path[i]);
    if (byte < 0x20 || byte == 0x7f) return bad("control character");
    size_t length = Utf8SequenceLength(path, i);
    if (length == 0) return bad("not valid UTF-8");
    i += length;
  }
  size_t start = 0;
  while (true) {
    size_t end = path.find('/', start);
    std::string_view segment =
        path.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (segment.empty()) return bad("empty segment");
    if (segment == "." || segment == "..") return bad("'.' and '..' segments are not allowed");
    if (segment.size() > kMaxPathSegmentBytes) return bad("a segment is longer than 255 bytes");
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return Status::Ok();
}

Status ValidateRevisionName(std::string_view name) {
  auto bad = [&](const std::string& why) {
    return InvalidArgument("invalid revision name '" + std::string(name.substr(0, 200)) +
                           "': " + why);
  };
  if (name.empty()) return bad("empty");
  if (name.size() > kMaxRevisionBytes) return bad("longer than 255 bytes");
  for (char c : name) {
    if (c <= 0x20 || c >= 0x7f || std::string_view("~^:?*[\\").find(c) != std::string_view::npos) {
      return bad("character not allowed in a git ref name");
    }
  }
  if (name.find("..") != std::string_view::npos || name.find("//") != std::string_view::npos ||
      name.front() == '/' || name.back() == '/' || name.back() == '.') {
    return bad("malformed ref name");
  }
  return Status::Ok();
}

Status ValidateAccountName(std::string_view name) {
  if (name.find('/') != std::string_view::npos) {
    return InvalidArgument("a name has no '/', got '" + std::string(name) + "'");
  }
  Status valid = ValidateRepoId(name);
  if (valid.ok()) return valid;
  return InvalidArgument("'" + std::string(name) +
                         "' is not usable as a namespace: " + valid.message());
}

std::string_view RepoNamespace(std::string_view id) {
  size_t slash = id.find('/');
  return slash == std::string_view::npos ? std::string_view() : id.substr(0, slash);
}

std::string_view RepoTypeName(RepoType type) {
  return type == RepoType::kModel ? "model" : "dataset";
}

bool ParseRepoType(std::string_view text, RepoType* type) {
  if (text == "model") {
    *type = RepoType::kModel;
  } else if (text == "dataset") {
    *type = RepoType::kDataset;
  } else {
    return false;
  }
  return true;
}

std::string AsciiLower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
    char y = b[i] >= 'A' && b[i] <= 'Z' ? static_cast<char>(b[i] - 'A' + 'a') : b[i];
    if (x != y) return false;
  }
  return true;
}

}  // namespace hubmirror
