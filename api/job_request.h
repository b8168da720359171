#pragma once

#include <nlohmann/json.hpp>

#include "api/job_control.h"
#include "common/status.h"

namespace hubmirror::api {

// The job an admin's POST /api/admin/jobs body asks for: {"kind": "sync"|"gc"|"verify"|"budget"}
// and, for a sync, "rule" (a number from 1) or "repo" (a valid repo id) with "type" and
// "revision"; for gc, "dry_run" and "grace" (a duration, "0s" included). The trigger is left for
// the caller. kInvalidArgument, naming the field, for anything else: an unknown field, a wrong
// type, a field of another kind. The revision is only taken; the daemon validates it. Never
// throws, whatever the JSON holds.
Result<JobRequest> ParseJobRequest(const nlohmann::json& body);

}  // namespace hubmirror::api
