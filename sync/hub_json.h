#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "sync/upstream_hub.h"

namespace hubmirror::sync {

// Pure parsers of the Hub's JSON answers (hub-protocol.md §3), shared by every UpstreamHub that
// speaks HTTP. Upstream JSON is untrusted: a field of the wrong type is treated as absent, never
// thrown on, and anything that would become a path or an address is validated. Stateless;
// safe from any thread.

// A string field of a JSON object, or "" when absent or of another type.
std::string StringField(const nlohmann::json& object, const char* key);

// The repo info of a revision (`/api/{type}s/{repo}/revision/{rev}`, with or without `expand`).
// `asked` is the repo id the request named: the answer's own id is kept only when it is valid.
// kCorrupt, prefixed with `what`, when it has no 40-hex `sha`.
Result<RemoteRevision> ParseRevisionInfo(const nlohmann::json& body, const std::string& asked,
                                         const std::string& what);

// The refs listing (`/api/{type}s/{repo}/refs?include_prs=1`): branches, tags, pull requests
// and conversions, each with a valid name for its kind and a 40-hex commit; others are left out.
std::vector<RemoteRef> ParseRefs(const nlohmann::json& body);

// The `baseModels` field of a model's info; nullopt when absent, malformed or empty.
std::optional<BaseModels> ParseBaseModels(const nlohmann::json& body);

// The first commit of a commits listing page; the defaults of RemoteCommit where a field is
// missing, and nullopt when the page holds no commit object.
std::optional<RemoteCommit> ParseFirstCommit(const nlohmann::json& page);

// One tree entry as the Hub lists it; kCorrupt with the reason for anything malformed or unsafe
// (an invalid path is never turned into a file name).
Result<RemoteEntry> ParseTreeEntry(const nlohmann::json& item);

// One model of a listing page; nullopt when its id is not a valid repo id.
std::optional<RemoteModel> ParseListedModel(const nlohmann::json& item);

// The `rel="next"` target of a Link header, or "".
std::string NextLink(std::string_view link_header);

}  // namespace hubmirror::sync
