// `hubmirror jobs`: a running server's jobs and config, through its admin API.
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "cli/admin_client.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "common/text_format.h"

namespace hubmirror::cli {
namespace {

using nlohmann::json;

struct JobsArgs {
  std::string server = "http://127.0.0.1:8080";
  std::string token_env = "HF_TOKEN";
  bool json = false;
  uint64_t id = 0;
  // jobs start
  std::string kind;
  size_t rule = 0;
  std::string repo;
  RepoType type = RepoType::kModel;
  std::string revision;
  bool dry_run = false;
  int64_t grace_seconds = -1;
  int64_t timeout_seconds = 0;
};

Result<AdminClient> Connect(const JobsArgs& args) {
  const char* token = std::getenv(args.token_env.c_str());
  return AdminClient::Create(args.server, token == nullptr ? "" : token);
}

std::string Text(const json& value) {
  return value.is_string() ? value.get<std::string>() : value.is_null() ? "" : value.dump();
}

// One line per job: id, kind, state, progress, trigger and target.
std::string JobLine(const json& job) {
  const json& progress = job["progress"];
  std::string done = FormatBytes(progress["doneBytes"].get<uint64_t>());
  uint64_t total = progress["totalBytes"].get<uint64_t>();
  std::string shown = total > 0 ? done + "/" + FormatBytes(total) : done;
  char line[512];
  std::snprintf(line, sizeof line, "%-6s %-7s %-10s %-22s %-20s %s", Text(job["id"]).c_str(),
                Text(job["kind"]).c_str(), Text(job["state"]).c_str(), shown.c_str(),
                Text(job["trigger"]).c_str(), Text(job["target"]).c_str());
  return line;
}

// Prints a job as a line, and its error's lines under it (or, with --json, as JSON).
void PrintJob(const json& job, bool as_json) {
  if (as_json) {
    std::cout << job.dump(2) << std::endl;
    return;
  }
  std::cout << JobLine(job) << std::endl;
  if (job["error"].is_string()) std::cout << "  error: " << Text(job["error"]) << std::endl;
}

bool Finished(const json& job) {
  std::string state = Text(job["state"]);
  return state == "succeeded" || state == "failed" || state == "cancelled";
}

// A command's exit code for a job: 0 when it succeeded or is still going, 1 when it failed or
// was cancelled.
int JobExitCode(const json& job) {
  std::string state = Text(job["state"]);
  return state == "failed" || state == "cancelled" ? kExitProblem : kExitOk;
}

// Runs `action` with a client of the server, reporting its failure.
int WithClient(const JobsArgs& args, const std::function<Result<int>(const AdminClient&)>& action) {
  auto client = Connect(args);
  if (!client.ok()) return ReportFailure(client.status());
  auto code = action(*client);
  return code.ok() ? *code : ReportFailure(code.status());
}

std::string JobPath(uint64_t id) { return "/api/admin/jobs/" + std::to_string(id); }

Result<int> List(const AdminClient& client, const JobsArgs& args) {
  auto answer = client.Call("GET", "/api/admin/jobs");
  if (!answer.ok()) return answer.status();
  if (args.json) {
    std::cout << answer->dump(2) << std::endl;
    return kExitOk;
  }
  std::printf("%-6s %-7s %-10s %-22s %-20s %s\n", "ID", "KIND", "STATE", "PROGRESS", "TRIGGER",
              "TARGET");
  for (const auto& job : (*answer)["jobs"]) std::cout << JobLine(job) << std::endl;
  return kExitOk;
}

Result<int> Start(const AdminClient& client, const JobsArgs& args) {
  json body = {{"kind", args.kind}};
  if (args.rule > 0) body["rule"] = args.rule;
  if (!args.repo.empty()) {
    body["repo"] = args.repo;
    body["type"] = RepoTypeName(args.type);
  }
  if (!args.revision.empty()) body["revision"] = args.revision;
  if (args.dry_run) body["dry_run"] = true;
  if (args.grace_seconds >= 0) body["grace"] = std::to_string(args.grace_seconds) + "s";
  auto job = client.Call("POST", "/api/admin/jobs", body);
  if (!job.ok()) return job.status();
  PrintJob(*job, args.json);
  return kExitOk;
}

// Polls a job until it finishes (or `timeout_seconds` pass, 0: no limit).
Result<int> Wait(const AdminClient& client, const JobsArgs& args) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(args.timeout_seconds);
  for (;;) {
    auto job = client.Call("GET", JobPath(args.id));
    if (!job.ok()) return job.status();
    if (Finished(*job)) {
      PrintJob(*job, args.json);
      return JobExitCode(*job);
    }
    if (args.timeout_seconds > 0 && std::chrono::steady_clock::now() >= deadline) {
      return IoError("job " + std::to_string(args.id) + " is still " + Text((*job)["state"]) +
                     " after " + std::to_string(args.timeout_seconds) + " s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

Result<int> Reload(const AdminClient& client, const JobsArgs& args) {
  auto answer = client.Call("POST", "/api/admin/config/reload");
  if (!answer.ok()) return answer.status();
  if (args.json) {
    std::cout << answer->dump(2) << std::endl;
    return kExitOk;
  }
  std::cout << "reloaded; applied: " << (*answer)["applied"].dump()
            << "; needs a restart: " << (*answer)["restart_needed"].dump() << std::endl;
  return kExitOk;
}

// Adds the options every `jobs` subcommand shares.
void AddClientOptions(CLI::App* command, JobsArgs* args) {
  command->add_option("--server", args->server, "the server's base URL")->capture_default_str();
  command
      ->add_option("--token-env", args->token_env,
                   "environment variable holding an admin's token (never printed)")
      ->capture_default_str();
  command->add_flag("--json", args->json, "print the server's JSON answer");
}

}  // namespace

void AddJobsCommand(CLI::App& app, const CommonOptions&, int* exit_code) {
  auto args = std::make_shared<JobsArgs>();
  CLI::App* jobs = app.add_subcommand(
      "jobs", "a running server's jobs and config, through its admin API (needs an admin token)");
  jobs->require_subcommand(0, 1);
  AddClientOptions(jobs, args.get());
  jobs->callback([jobs, args, exit_code] {
    if (jobs->get_subcommands().empty()) {
      *exit_code = WithClient(*args, [&](const AdminClient& c) { return List(c, *args); });
    }
  });

  CLI::App* list = jobs->add_subcommand("list", "running and queued jobs, then finished ones");
  AddClientOptions(list, args.get());
  list->callback([args, exit_code] {
    *exit_code = WithClient(*args, [&](const AdminClient& c) { return List(c, *args); });
  });

  CLI::App* show = jobs->add_subcommand("show", "one job, with its progress and error");
  AddClientOptions(show, args.get());
  show->add_option("ID", args->id, "the job's id")->required();
  show->callback([args, exit_code] {
    *exit_code = WithClient(*args, [&](const AdminClient& c) -> Result<int> {
      auto job = c.Call("GET", JobPath(args->id));
      if (!job.ok()) return job.status();
      PrintJob(*job, args->json);
      return kExitOk;
    });
  });

  CLI::App* start = jobs->add_subcommand("start", "queue a sync, gc, verify or budget job");
  AddClientOptions(start, args.get());
  start->add_option("KIND", args->kind, "sync, gc, verify or budget")
      ->required()
      ->check(CLI::IsMember({"sync", "gc", "verify", "budget"}));
  auto* rule = start->add_option("--rule", args->rule, "sync: the config's rule N (from 1)")
                   ->check(CLI::PositiveNumber);
  start->add_option("--repo", args->repo, "sync: this repo (its rules' settings, if any)")
      ->check(RepoId())
      ->excludes(rule);
  AddRepoTypeOption(start, &args->type, "sync: the repo's type (model or dataset)");
  start->add_option("--revision", args->revision, "sync: this revision of --repo");
  start->add_flag("--dry-run", args->dry_run, "gc: count what would be removed, remove nothing");
  AddDurationOption(start, "--grace", &args->grace_seconds, "gc: the grace period (0s: none)",
                    true);
  start->callback([args, exit_code] {
    *exit_code = WithClient(*args, [&](const AdminClient& c) { return Start(c, *args); });
  });

  CLI::App* cancel = jobs->add_subcommand("cancel", "stop a queued or running job");
  AddClientOptions(cancel, args.get());
  cancel->add_option("ID", args->id, "the job's id")->required();
  cancel->callback([args, exit_code] {
    *exit_code = WithClient(*args, [&](const AdminClient& c) -> Result<int> {
      auto job = c.Call("DELETE", JobPath(args->id));
      if (!job.ok()) return job.status();
      PrintJob(*job, args->json);
      return kExitOk;
    });
  });

  CLI::App* wait = jobs->add_subcommand(
      "wait", "wait until a job finishes; exit 0 if it succeeded, 1 if it failed or was cancelled");
  AddClientOptions(wait, args.get());
  wait->add_option("ID", args->id, "the job's id")->required();
  AddDurationOption(wait, "--timeout", &args->timeout_seconds, "give up after this long");
  wait->callback([args, exit_code] {
    *exit_code = WithClient(*args, [&](const AdminClient& c) { return Wait(c, *args); });
  });

  CLI::App* reload = jobs->add_subcommand("reload", "make the server read its config file again");
  AddClientOptions(reload, args.get());
  reload->callback([args, exit_code] {
    *exit_code = WithClient(*args, [&](const AdminClient& c) { return Reload(c, *args); });
  });

  CLI::App* config =
      jobs->add_subcommand("config", "the server's effective config, as JSON (no secrets)");
  AddClientOptions(config, args.get());
  config->callback([args, exit_code] {
    *exit_code = WithClient(*args, [&](const AdminClient& c) -> Result<int> {
      auto answer = c.Call("GET", "/api/admin/config");
      if (!answer.ok()) return answer.status();
      std::cout << answer->dump(2) << std::endl;
      return kExitOk;
    });
  });
}

}  // namespace hubmirror::cli
