// The daemon's jobs and configuration over HTTP, for server admins: /api/admin/jobs (list, start),
// /api/admin/jobs/{id} (show, cancel), /api/admin/config (the effective config) and
// /api/admin/config/reload. The daemon does the work (job_control.h); these handlers check the
// caller, read the request, record changes in the audit log and answer.
#include <charconv>

#include "api/access.h"
#include "api/handler_support.h"
#include "api/job_request.h"
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
  auto request = ParseJobRequest(*body);
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
