#include "api/commit_request.h"

#include <nlohmann/json.hpp>

#include "common/base64.h"
#include "common/digest.h"

namespace hubmirror::api {
namespace {

using nlohmann::json;

// A string field of `value`, or "" when absent; kInvalidArgument when it is not a string.
Result<std::string> Text(const json& value, const char* key, bool required,
                         const std::string& where) {
  auto found = value.find(key);
  if (found == value.end() || found->is_null()) {
    if (!required) return std::string();
    return InvalidArgument(where + ": needs \"" + key + "\"");
  }
  if (!found->is_string()) return InvalidArgument(where + ": \"" + key + "\" must be a string");
  return found->get<std::string>();
}

Result<CommitOperation> ReadOperation(const std::string& key, const json& value,
                                      const std::string& where) {
  CommitOperation op;
  auto path = Text(value, "path", true, where);
  if (!path.ok()) return path.status();
  op.path = std::move(path.value());
  if (key == "deletedFolder" || key == "deletedFile") {
    while (op.path.size() > 1 && op.path.back() == '/') op.path.pop_back();
    op.kind = key == "deletedFile" ? CommitOperation::Kind::kDeleteFile
                                   : CommitOperation::Kind::kDeleteFolder;
  } else if (key == "file") {
    op.kind = CommitOperation::Kind::kAddFile;
    auto encoding = Text(value, "encoding", false, where);
    auto content = Text(value, "content", true, where);
    if (!encoding.ok()) return encoding.status();
    if (!content.ok()) return content.status();
    if (*encoding == "utf-8") {
      op.content = std::move(content.value());
    } else if (encoding->empty() || *encoding == "base64") {
      auto decoded = DecodeBase64(*content);
      if (!decoded) return InvalidArgument(where + ": content is not valid base64");
      op.content = std::move(*decoded);
    } else {
      return InvalidArgument(where + ": encoding must be base64 or utf-8");
    }
  } else if (key == "lfsFile") {
    op.kind = CommitOperation::Kind::kAddLfsFile;
    auto oid = Text(value, "oid", true, where);
    if (!oid.ok()) return oid.status();
    auto algo = Text(value, "algo", false, where);
    if (!algo.ok()) return algo.status();
    if (!IsSha256Hex(*oid) || (!algo->empty() && *algo != "sha256")) {
      return InvalidArgument(where + ": oid must be a sha256 (64 lowercase hex digits)");
    }
    op.sha256 = std::move(oid.value());
    if (auto size = value.find("size"); size != value.end() && !size->is_null()) {
      if (!size->is_number_unsigned()) return InvalidArgument(where + ": size must be a number");
      op.size = size->get<uint64_t>();
    }
  } else {
    return InvalidArgument(where + ": unknown key \"" + key.substr(0, 64) + "\"");
  }
  if (Status valid = ValidateRepoPath(op.path); !valid.ok()) {
    return InvalidArgument(where + ": " + valid.message());
  }
  return op;
}

}  // namespace

Result<CommitRequest> ParseCommitRequest(std::string_view ndjson) {
  CommitRequest request;
  bool header = false;
  size_t number = 0;
  for (size_t start = 0; start < ndjson.size();) {
    size_t end = ndjson.find('\n', start);
    if (end == std::string_view::npos) end = ndjson.size();
    std::string_view line = ndjson.substr(start, end - start);
    start = end + 1;
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    std::string where = "line " + std::to_string(number);
    json parsed = json::parse(line, nullptr, false);
    if (!parsed.is_object()) return InvalidArgument(where + ": not a JSON object");
    auto key = Text(parsed, "key", true, where);
    if (!key.ok()) return key.status();
    auto value = parsed.find("value");
    if (value == parsed.end() || !value->is_object()) {
      return InvalidArgument(where + ": needs a \"value\" object");
    }
    if (*key == "header") {
      if (header) return InvalidArgument(where + ": a second header");
      header = true;
      auto summary = Text(*value, "summary", false, where);
      auto description = Text(*value, "description", false, where);
      auto parent = Text(*value, "parentCommit", false, where);
      for (const auto* field : {&summary, &description, &parent}) {
        if (!field->ok()) return field->status();
      }
      request.summary = std::move(summary.value());
      request.description = std::move(description.value());
      if (!parent->empty()) {
        bool hex = parent->size() >= 5 && parent->size() <= 40 &&
                   parent->find_first_not_of("0123456789abcdefABCDEF") == std::string::npos;
        if (!hex) return InvalidArgument(where + ": parentCommit must be 5 to 40 hex digits");
        request.parent_commit = std::move(parent.value());
      }
      continue;
    }
    if (!header) return InvalidArgument(where + ": the header must come first");
    auto op = ReadOperation(*key, *value, where);
    if (!op.ok()) return op.status();
    request.operations.push_back(std::move(op.value()));
  }
  if (!header) return InvalidArgument("the commit has no header line");
  return request;
}

}  // namespace hubmirror::api
