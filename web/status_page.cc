// The mirror's status (`/-/status`): the rules, every mirrored revision with its upstream and
// local commits and lag, pull-through's fills, and the jobs in progress.
#include "api/access.h"
#include "api/job_control.h"
#include "api/pull_through.h"
#include "common/clock.h"
#include "web/page_handlers.h"

namespace hubmirror::web {
namespace {

using nlohmann::json;

std::string ShortCommit(const std::string& commit) {
  return commit.empty()
             ? "<span class=\"meta\">none</span>"
             : "<code title=\"" + Escape(commit) + "\">" + Escape(commit.substr(0, 12)) + "</code>";
}

// The config's mirror rules, those naming a repo hidden from the caller left out.
Result<std::string> RulesSection(const RequestContext& context) {
  if (context.jobs == nullptr) return std::string();
  json config = context.jobs->EffectiveConfig();
  std::string html = "<section id=\"rules\"><h2>Mirror rules</h2><p class=\"meta\">Upstream ";
  const json& url = config["upstream"]["url"];
  html += url.is_string() ? "<code>" + Escape(url.get<std::string>()) + "</code>" : "none";
  html += ", every " + FormatAge(config["schedule"]["interval_seconds"].get<int64_t>()) + "</p>";
  if (config["mirror"].empty()) {
    return html +
           "<p id=\"no-rules\">No mirror rules: this server keeps what imports, "
           "<code>hubmirror sync</code>, pull-through and publishing put in it.</p></section>";
  }
  html += TableStart("rules-table", {"Rule", "Repo", "Revision", "Lineage"});
  for (const json& rule : config["mirror"]) {
    std::string repo = rule["repo"].get<std::string>();
    RepoType type = rule["type"] == "dataset" ? RepoType::kDataset : RepoType::kModel;
    if (repo.find('*') == std::string::npos) {
      auto hidden = api::HiddenFrom(context, type, repo);
      if (!hidden.ok()) return hidden.status();
      if (*hidden) continue;
    }
    std::string lineage = rule["ancestors"].get<bool>() ? "ancestors" : "";
    for (const json& relation : rule["descendants"]) {
      lineage += (lineage.empty() ? "" : ", ") + relation.get<std::string>();
    }
    html += "<tr><td>" + std::to_string(rule["rule"].get<int64_t>()) + "</td><td>" +
            Escape(rule["type"].get<std::string>()) + " <code>" + Escape(repo) +
            "</code></td><td>" + Escape(rule["revision"].get<std::string>()) + "</td><td>" +
            (lineage.empty() ? std::string("not followed") : Escape(lineage)) + "</td></tr>";
  }
  return html + std::string(kTableEnd) + "</section>";
}

// Jobs name the repos they work on: an admin sees them, others how many run.
std::string JobsSection(const RequestContext& context) {
  if (context.jobs == nullptr) return "";
  std::vector<api::JobView> active;
  for (auto& job : context.jobs->ListJobs()) {
    if (job.state == api::JobState::kQueued || job.state == api::JobState::kRunning) {
      active.push_back(std::move(job));
    }
  }
  std::string html = "<section id=\"jobs\"><h2>Jobs in progress</h2>";
  if (!context.caller.is_admin()) {
    return html + "<p>" + std::to_string(active.size()) + " jobs queued or running.</p></section>";
  }
  if (active.empty()) return html + "<p>None.</p></section>";
  html += "<ul>";
  for (const auto& job : active) {
    html += "<li>#" + std::to_string(job.id) + " " + std::string(api::JobKindName(job.kind)) + " " +
            Escape(job.target) + ": " + std::string(api::JobStateName(job.state)) + ", " +
            std::to_string(job.progress.done_items) + "/" +
            std::to_string(job.progress.total_items) + " items, " +
            FormatBytes(job.progress.done_bytes) + " of " + FormatBytes(job.progress.total_bytes) +
            "</li>";
  }
  return html + "</ul></section>";
}

std::string FillsSection(const RequestContext& context) {
  if (context.pull_through == nullptr) {
    return "<section id=\"fills\"><h2>Pull-through</h2><p>Not configured: this server serves "
           "what sync and imports put in it.</p></section>";
  }
  json report = api::PullThroughReport(context);
  std::string html = "<section id=\"fills\"><h2>Pull-through</h2><p>From <code>" +
                     Escape(report.value("upstream", "")) +
                     "</code>; revisions are checked again "
                     "after " +
                     FormatAge(report.value("max_age_seconds", int64_t{0})) + ".</p>";
  if (report["fills"].empty()) return html + "<p>No fill in progress.</p></section>";
  html += "<ul>";
  for (const json& fill : report["fills"]) {
    html += "<li>" + Escape(fill["repo"].get<std::string>()) + ": " +
            Escape(fill["path"].get<std::string>()) + ", " +
            FormatBytes(fill["bytes"].get<uint64_t>()) + " of " +
            FormatBytes(fill["size"].get<uint64_t>()) + "</li>";
  }
  return html + "</ul></section>";
}

}  // namespace

Response StatusPage(const RequestContext& context) {
  auto states = context.registry.ListSyncStates();
  auto rules = RulesSection(context);
  Status failed = !states.ok() ? states.status() : rules.status();
  if (!failed.ok())
    return ErrorPage(context, http::status::internal_server_error, failed.message());
  int64_t now = NowUnixMillis();
  std::string rows;
  size_t in_sync = 0;
  size_t shown = 0;
  for (const auto& state : *states) {
    auto hidden = api::HiddenFrom(context, state.type, state.repo);
    if (!hidden.ok() || *hidden) continue;
    ++shown;
    bool current = !state.local_commit.empty() && state.local_commit == state.upstream_commit;
    in_sync += current;
    rows += "<tr><td><a href=\"" + RepoPageUrl(state.type, state.repo) + "\">" +
            Escape(state.repo) + "</a></td><td>" + Escape(state.revision) + "</td><td>" +
            (state.pull_through ? "pull-through" : "sync") + "</td><td><code>" +
            Escape(state.upstream) + "</code></td><td>" + ShortCommit(state.upstream_commit) +
            "</td><td>" + ShortCommit(state.local_commit) + "</td><td class=\"" +
            (current ? "ok\">yes" : "lag\">no") + "</td><td>" +
            (state.last_success_ms > 0 ? FormatAge((now - state.last_success_ms) / 1000)
                                       : std::string("never synced")) +
            "</td><td class=\"error-text\">" + Escape(state.last_error) + "</td></tr>";
  }
  std::string html = PageStart(context, "Mirror status", "status");
  html += "<h1>Mirror status</h1><p id=\"status-summary\">" + std::to_string(shown) +
          " mirrored revisions, " + std::to_string(in_sync) +
          " in sync with their upstream. "
          "As JSON: <a href=\"/api/mirror/status\">/api/mirror/status</a>.</p>";
  html +=
      *rules + "<section id=\"revisions\"><h2>Mirrored revisions</h2>" +
      TableStart("status-table", {"Repo", "Revision", "Source", "Upstream", "Upstream commit",
                                  "Local commit", "In sync", "Since last success", "Last error"}) +
      rows + std::string(kTableEnd) + "</section>";
  html += FillsSection(context) + JobsSection(context) + PageEnd();
  return HtmlResponse(std::move(html));
}

}  // namespace hubmirror::web
