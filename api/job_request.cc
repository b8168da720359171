#include "api/job_request.h"

#include <set>

#include "common/clock.h"

namespace hubmirror::api {

using nlohmann::json;

Result<JobRequest> ParseJobRequest(const json& body) {
  if (!body.is_object()) return InvalidArgument("the body must be a JSON object");
  JobRequest request;
  auto text = [&](const char* key) -> Result<std::optional<std::string>> {
    auto found = body.find(key);
    if (found == body.end() || found->is_null()) return std::optional<std::string>();
    if (!found->is_string())
      return InvalidArgument(std::string("\"") + key + "\" must be a string");
    return std::optional<std::string>(found->get<std::string>());
  };
  auto kind = text("kind");
  if (!kind.ok()) return kind.status();
  if (!*kind || !ParseJobKind(**kind, &request.kind)) {
    return InvalidArgument("\"kind\" must be sync, gc, verify or budget");
  }
  for (const auto& [key, value] : body.items()) {
    static const std::set<std::string> kKnown = {"kind",     "rule",    "repo", "type",
                                                 "revision", "dry_run", "grace"};
    if (!kKnown.count(key)) return InvalidArgument("unknown field \"" + key + "\"");
  }
  bool is_sync = request.kind == JobKind::kSync;
  if (auto rule = body.find("rule"); rule != body.end() && !rule->is_null()) {
    if (!is_sync || !rule->is_number_unsigned() || rule->get<uint64_t>() == 0) {
      return InvalidArgument("\"rule\" must be a rule's number (from 1), for a sync");
    }
    request.rule = rule->get<size_t>();
  }
  auto repo = text("repo");
  auto type = text("type");
  auto revision = text("revision");
  for (const auto* field : {&repo, &type, &revision}) {
    if (!field->ok()) return field->status();
  }
  if (*repo) {
    if (!is_sync || request.rule) {
      return InvalidArgument("\"repo\" names what a sync mirrors, instead of \"rule\"");
    }
    HM_RETURN_IF_ERROR(ValidateRepoId(**repo));
    request.repo = **repo;
    if (*type && !ParseRepoType(**type, &request.type)) {
      return InvalidArgument("\"type\" must be model or dataset");
    }
  } else if (*type || *revision) {
    return InvalidArgument("\"type\" and \"revision\" go with \"repo\"");
  }
  if (*revision) request.revision = **revision;  // the daemon validates it, as a rule's
  auto dry_run = body.find("dry_run");
  auto grace = text("grace");
  if (!grace.ok()) return grace.status();
  if (request.kind != JobKind::kGc && ((dry_run != body.end() && !dry_run->is_null()) || *grace)) {
    return InvalidArgument("\"dry_run\" and \"grace\" are options of gc");
  }
  if (dry_run != body.end() && !dry_run->is_null()) {
    if (!dry_run->is_boolean()) return InvalidArgument("\"dry_run\" must be true or false");
    request.dry_run = dry_run->get<bool>();
  }
  if (*grace) {
    std::optional<int64_t> seconds = ParseDurationOrZero(**grace);
    if (!seconds) return InvalidArgument("\"grace\" must be a duration such as 0s, 15m or 24h");
    request.grace_seconds = *seconds;
  }
  return request;
}

}  // namespace hubmirror::api
