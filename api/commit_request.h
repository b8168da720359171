#pragma once

#include <string_view>

#include "api/publisher.h"
#include "common/status.h"

namespace hubmirror::api {

// Reads the NDJSON body of POST /api/{type}s/{repo}/commit/{rev} (hub-protocol §12.7): a
// `header` line first ({"summary", "description"?, "parentCommit"?: 5-40 hex}), then `file`
// (base64 content), `lfsFile` (sha256 oid, optional size), `deletedFile` and `deletedFolder`
// lines, with or without a trailing newline. Fills summary, description, parent_commit and
// operations; the caller sets the repo, branch and author. kInvalidArgument, naming the line, for
// anything else: a path that is not a valid repo path (`..`, a leading '/'), an unknown key, bad
// base64, a second header. Never throws, whatever the bytes.
Result<CommitRequest> ParseCommitRequest(std::string_view ndjson);

}  // namespace hubmirror::api
