// `hubmirror repo settings`, `hubmirror access grant|revoke` and `hubmirror audit`: who may read
// a repo, and the record of what was done about it.
#include <iostream>
#include <nlohmann/json.hpp>

#include "api/admin_actions.h"
#include "api/identity_json.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "common/clock.h"
#include "registry/registry.h"

namespace hubmirror::cli {
namespace {

using registry::Registry;

// ------------------------------------------------------------------------------ repo settings

struct SettingsArgs {
  std::string repo;
  RepoType type = RepoType::kModel;
  std::string is_private;                // "true", "false", or "" to keep
  std::string gated;                     // "false", "auto", "manual", or "" to keep
  std::optional<size_t> keep_revisions;  // 0: no count rule
  int64_t keep_within_seconds = -1;      // 0: no age rule; -1: keep as set
  std::string pinned;                    // "true", "false", or "" to keep
};

// What a repo's retention keeps, as `repo settings` prints it.
std::string RetentionText(const registry::Retention& retention) {
  if (!retention.Any()) return "every revision";
  std::string text;
  if (retention.revisions) {
    text = "the newest " + std::to_string(*retention.revisions) + " revisions of each branch";
  }
  if (retention.within_seconds) {
    text += (text.empty() ? "" : " and ") + std::string("revisions dated within ") +
            std::to_string(*retention.within_seconds) + " s";
  }
  return text;
}

// Prints the visibility and gating in force, and which of them the operator set (the others are
// the upstream's flags, or an imported repo's defaults).
int ShowSettings(const CommonOptions& common, const SettingsArgs& args) {
  auto registry = OpenExistingRegistry(common, Registry::Mode::kReadOnly);
  if (!registry.ok()) return ReportFailure(registry.status());
  auto repo = (*registry)->FindRepo(args.type, args.repo);
  if (!repo.ok()) return ReportFailure(repo.status());
  auto settings = (*registry)->AccessSettings(args.type, args.repo);
  if (!settings.ok()) return ReportFailure(settings.status());
  auto origin = [](bool set) { return set ? " (set here)" : " (as synced or imported)"; };
  auto retention = (*registry)->GetRetention(args.type, args.repo);
  if (!retention.ok()) return ReportFailure(retention.status());
  auto pinned = (*registry)->Pinned(args.type, args.repo);
  if (!pinned.ok()) return ReportFailure(pinned.status());
  std::cout << api::RepoTarget(*repo) << ": private " << (repo->is_private ? "true" : "false")
            << origin(settings->is_private.has_value()) << ", gated " << repo->gated
            << origin(settings->gated.has_value()) << ", keeps " << RetentionText(*retention)
            << (*pinned ? ", pinned" : "") << std::endl;
  return kExitOk;
}

int RunRepoSettings(const CommonOptions& common, const SettingsArgs& args) {
  bool retention_changes = args.keep_revisions || args.keep_within_seconds >= 0;
  if (args.is_private.empty() && args.gated.empty() && !retention_changes && args.pinned.empty()) {
    return ShowSettings(common, args);
  }
  registry::RepoAccessSettings settings;
  nlohmann::json detail = nlohmann::json::object();
  if (!args.is_private.empty()) {
    settings.is_private = args.is_private == "true";
    detail["private"] = *settings.is_private;
  }
  if (!args.gated.empty()) {
    settings.gated = args.gated;
    detail["gated"] = args.gated;
  }
  if (args.keep_revisions) detail["keep_revisions"] = *args.keep_revisions;
  if (args.keep_within_seconds >= 0) detail["keep_within_seconds"] = args.keep_within_seconds;
  if (!args.pinned.empty()) detail["pinned"] = args.pinned == "true";
  Status done = ApplyOperatorAction(common, [&](Registry& registry) -> Result<api::AdminAction> {
    auto repo = registry.FindRepo(args.type, args.repo);
    if (!repo.ok()) return repo.status();
    HM_RETURN_IF_ERROR(registry.SetAccessSettings(args.type, args.repo, settings));
    if (!args.pinned.empty()) {
      HM_RETURN_IF_ERROR(registry.SetPinned(args.type, args.repo, args.pinned == "true"));
    }
    if (retention_changes) {
      auto retention = registry.GetRetention(args.type, args.repo);
      if (!retention.ok()) return retention.status();
      if (args.keep_revisions) {
        retention->revisions.reset();
        if (*args.keep_revisions > 0) retention->revisions = *args.keep_revisions;
      }
      if (args.keep_within_seconds >= 0) {
        retention->within_seconds.reset();
        if (args.keep_within_seconds > 0) retention->within_seconds = args.keep_within_seconds;
      }
      HM_RETURN_IF_ERROR(registry.SetRetention(args.type, args.repo, *retention));
      // Applied at once: the revisions released become garbage for the next `hubmirror gc`.
      if (retention->Any()) {
        auto released = registry.ReleaseRevisions(args.type, args.repo, *retention);
        if (!released.ok()) return released.status();
        detail["released_revisions"] = *released;
        std::cout << "released " << *released << " revisions" << std::endl;
      }
    }
    return api::AdminAction{"repo.settings", api::RepoTarget(*repo), detail};
  });
  if (!done.ok()) return ReportFailure(done);
  return ShowSettings(common, args);
}

// ------------------------------------------------------------------------------ access

struct AccessArgs {
  std::string repo;
  RepoType type = RepoType::kModel;
  std::string user;
};

// Grants a user access to a repo, or takes their access (or pending request) away.
int RunAccess(const CommonOptions& common, const AccessArgs& args, bool grant) {
  bool open_to_all = false;
  Status done = ApplyOperatorAction(common, [&](Registry& registry) {
    return api::ChangeAccess(registry, args.type, args.repo, args.user, grant, "operator",
                             &open_to_all);
  });
  if (!done.ok()) return ReportFailure(done);
  std::cout << (grant ? "granted " + args.user + " access to "
                      : "revoked the access of " + args.user + " to ")
            << RepoTypeName(args.type) << " " << args.repo << std::endl;
  if (grant && open_to_all) {
    std::cerr << "hubmirror: warning: " << api::kGrantOnOpenRepo << std::endl;
  }
  return kExitOk;
}

// ------------------------------------------------------------------------------ audit

struct AuditArgs {
  int64_t since_seconds = 0;  // 0: from the first event
  size_t limit = 10000;
  bool json = false;
};

int RunAudit(const CommonOptions& common, const AuditArgs& args) {
  auto registry = OpenExistingRegistry(common, Registry::Mode::kReadOnly);
  if (!registry.ok()) return ReportFailure(registry.status());
  auto page = api::ReadAuditPage(**registry, args.since_seconds, args.limit);
  if (!page.ok()) return ReportFailure(page.status());
  if (args.json) {
    std::cout << api::AuditPageJson(*page).dump(2) << std::endl;
    return kExitOk;
  }
  for (const auto& event : page->events) {
    std::cout << FormatIsoMillis(event.at_ms) << " " << event.actor << " " << event.action << " "
              << event.target << ": " << event.outcome;
    if (!event.address.empty()) std::cout << " from " << event.address;
    if (!event.detail.empty()) std::cout << " " << event.detail;
    std::cout << std::endl;
  }
  std::cout << page->events.size() << " events" << std::endl;
  if (page->more) {
    std::cerr << "hubmirror: only the first " << args.limit
              << " events are shown; narrow --since or raise --limit" << std::endl;
  }
  return kExitOk;
}

// ------------------------------------------------------------------------------ registration

void AddRepoSettingsCommand(CLI::App& app, const CommonOptions& common, int* exit_code) {
  CLI::App* repo = AddCommandGroup(app, "repo", "a repo's access and retention settings");
  auto args = std::make_shared<SettingsArgs>();
  CLI::App* settings = repo->add_subcommand(
      "settings",
      "show a repo's visibility, gating and retention, or change them with the options");
  settings->add_option("REPO", args->repo, "repo id, ORG/NAME")->required()->check(RepoId());
  AddRepoTypeOption(settings, &args->type, "model or dataset");
  settings
      ->add_option("--private", args->is_private,
                   "true: only the namespace's members and users granted access see it")
      ->check(CLI::IsMember({"true", "false"}));
  settings
      ->add_option("--gated", args->gated,
                   "auto or manual: files need a grant (given at once on request, or by an admin)")
      ->check(CLI::IsMember({"false", "auto", "manual"}));
  settings
      ->add_option("--pinned", args->pinned,
                   "true: the storage budget never evicts the content of this pulled-through repo")
      ->check(CLI::IsMember({"true", "false"}));
  settings->add_option("--keep-revisions", args->keep_revisions,
                       "keep each branch's newest N revisions and release older ones no ref "
                       "points at, now and after every sync (0: no count rule)");
  AddDurationOption(settings, "--keep-within", &args->keep_within_seconds,
                    "also keep revisions dated within this long (e.g. 90d; 0s: no age rule)", true);
  settings->callback([&common, args, exit_code] { *exit_code = RunRepoSettings(common, *args); });
}

void AddAccessCommand(CLI::App& app, const CommonOptions& common, int* exit_code) {
  CLI::App* access = AddCommandGroup(app, "access", "users' access to private and gated repos");
  for (bool grant : {true, false}) {
    auto args = std::make_shared<AccessArgs>();
    CLI::App* command = access->add_subcommand(
        grant ? "grant" : "revoke", grant ? "give a user access to a repo"
                                          : "take a user's access, or their pending request, away");
    command->add_option("REPO", args->repo, "repo id, ORG/NAME")->required()->check(RepoId());
    AddRepoTypeOption(command, &args->type, "model or dataset");
    command->add_option("--user", args->user, "user name")->required()->check(AccountName());
    command->callback(
        [&common, args, exit_code, grant] { *exit_code = RunAccess(common, *args, grant); });
  }
}

void AddAuditCommand(CLI::App& app, const CommonOptions& common, int* exit_code) {
  auto args = std::make_shared<AuditArgs>();
  CLI::App* audit = app.add_subcommand(
      "audit",
      "security-relevant events (tokens, users, access, settings, refusals), oldest first");
  AddDurationOption(audit, "--since", &args->since_seconds,
                    "only events of the last DURATION (30s, 15m, 24h, 90d)");
  audit->add_option("--limit", args->limit, "at most this many events")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1}, size_t{1000000}));
  audit->add_flag("--json", args->json, "one JSON document");
  audit->callback([&common, args, exit_code] { *exit_code = RunAudit(common, *args); });
}

}  // namespace

void AddAccessCommands(CLI::App& app, const CommonOptions& common, int* exit_code) {
  AddRepoSettingsCommand(app, common, exit_code);
  AddAccessCommand(app, common, exit_code);
  AddAuditCommand(app, common, exit_code);
}

}  // namespace hubmirror::cli
