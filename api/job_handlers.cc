// The daemon's jobs and configuration over HTTP, for server admins: /api/admin/jobs (list, start),
// /api/admin/jobs/{id} (show, cancel), /api/admin/config (the effective config) and
// /api/admin/config/reload. The daemon does the work (job_control.h); these handlers check the
// caller, read the request, record changes in the audit log and answer.
#include <charconv>
#include <set>

#include "api/access.h"
#include "api/handler_support.h"
#include "common/clock.h"

namespace hubmirror::api {
namespace {

using nlohmann::json;

json TimeJson(int64_t unix_ms) { return unix_ms == 0 ? json() : json(FormatIsoMillis(unix_ms)); }

json JobJson(const JobView& job) {
  return {{"id", job.id},
          {"kind", JobKindName(job.kind)},
          {"target", job.target},
          {"trigger", job.trigger},
          {"state", JobStateName(job.state)},
          {"cancelRequested", job.cancel_requested},
          {"queuedAt", TimeJson(job.queued_ms)},
          {"startedAt", TimeJson(job.started_ms)},
          {"finishedAt", TimeJson(job.finished_ms)},
          {"progress",
           {{"doneBytes", job.progress.done_bytes},
            {"totalBytes", job.progress.total_bytes},
            {"doneItems", job.progress.done_items},
            {"totalItems", job.progress.total_items}}},
          {"error", job.error.empty() ? json() : json(job.error)},
          {"result", job.result}};
}

// The refusal of an admin route, or of a server that runs no jobs.
std::optional<Response> Refused(const RequestContext& context) {
  if (auto refusal = AdminRefusal(context)) return refusal;
  if (context.jobs == nullptr) {
    return ErrorResponse(ApiError::kServiceUnavailable, "this server runs no jobs", true);
  }
  return std::nullopt;
}

// A job request from a POST body: {"kind": "sync"|"gc"|"verify"|"budget"} and, for a sync,
// "rule" (a number) or "repo" with "type" and "revision"; for gc, "dry_run" and "grace".
Result<JobRequest> ReadJobRequest(const json& body) {
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

// The answer for a failure of the daemon: kFailedPrecondition is a conflict with its state.
Response JobError(const Status& status) {
  if (status.code() == StatusCode::kFailedPrecondition) {
    return ErrorResponse(ApiError::kConflict, status.message(), true);
  }
  if (status.code() == StatusCode::kNotFound) {
    return ErrorResponse(ApiError::kEntryNotFound, status.message(), true);
  }
  return ErrorFromStatus(status, true);
}

}  // namespace

Response HandleAdminJobs(const RequestContext& context) {
  if (auto refusal = Refused(context)) return std::move(*refusal);
  if (context.request.method() != http::verb::post) {
    json jobs = json::array();
    for (const auto& job : context.jobs->ListJobs()) jobs.push_back(JobJson(job));
    return JsonResponse({{"jobs", std::move(jobs)}});
  }
  auto body = JsonObjectBody(context);
  if (!body.ok()) return ErrorFromStatus(body.status(), true);
  auto request = ReadJobRequest(*body);
  if (!request.ok()) return ErrorFromStatus(request.status(), true);
  request->trigger = "admin " + context.caller.name();
  auto started = context.jobs->StartJob(*request);
  std::string what = std::string(JobKindName(request->kind));
  if (!started.ok()) {
    context.access.Audit(
        CallerEvent(context, "job.start", what, "failed", {{"error", started.status().message()}}));
    return JobError(started.status());
  }
  context.access.Audit(CallerEvent(context, "job.start",
                                   what + " job " + std::to_string(started->id), "ok",
                                   {{"target", started->target}}));
  Response response = JsonResponse(JobJson(*started));
  response.status = http::status::accepted;
  response.Set("Location", "/api/admin/jobs/" + std::to_string(started->id));
  return response;
}

Response HandleAdminJob(const RequestContext& context) {
  if (auto refusal = Refused(context)) return std::move(*refusal);
  uint64_t id = 0;
  const std::string& item = context.route.item;
  std::from_chars(item.data(), item.data() + item.size(), id);
  if (context.request.method() != http::verb::delete_) {
    auto job = context.jobs->FindJob(id);
    if (!job) return ErrorResponse(ApiError::kEntryNotFound, "no job " + item, true);
    return JsonResponse(JobJson(*job));
  }
  auto cancelled = context.jobs->CancelJob(id);
  if (!cancelled.ok()) return JobError(cancelled.status());
  context.access.Audit(CallerEvent(
      context, "job.cancel", std::string(JobKindName(cancelled->kind)) + " job " + item, "ok"));
  return JsonResponse(JobJson(*cancelled));
}

Response HandleAdminConfig(const RequestContext& context) {
  if (auto refusal = Refused(context)) return std::move(*refusal);
  return JsonResponse(context.jobs->EffectiveConfig());
}

Response HandleAdminReload(const RequestContext& context) {
  if (auto refusal = Refused(context)) return std::move(*refusal);
  auto reloaded = context.jobs->Reload();
  if (!reloaded.ok()) {
    context.access.Audit(CallerEvent(context, "config.reload", "config", "failed",
                                     {{"error", reloaded.status().message()}}));
    return JobError(reloaded.status());
  }
  context.access.Audit(CallerEvent(context, "config.reload", "config", "ok"));
  return JsonResponse(*reloaded);
}

}  // namespace hubmirror::api
