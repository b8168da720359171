#pragma once

#include <CLI/CLI.hpp>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "api/admin_actions.h"
#include "common/signing.h"
#include "common/status.h"
#include "registry/registry.h"

namespace hubmirror::cli {

// Exit codes of every subcommand (design: 0 success, 1 the job found a problem, 2 usage or
// configuration error).
inline constexpr int kExitOk = 0;
inline constexpr int kExitProblem = 1;
inline constexpr int kExitUsage = 2;

// Options every subcommand shares.
struct CommonOptions {
  std::filesystem::path data_dir = "hubmirror-data";
};

// Parses the command line and runs the subcommand it names; returns the process's exit code.
// Usage errors print one line on stderr and return kExitUsage.
int RunCommandLine(int argc, const char* const* argv);

// Prints `status` as one line on stderr and returns its exit code: 2 for invalid input or
// configuration, 1 otherwise.
int ReportFailure(const Status& status);

// Each Add*Command registers a subcommand; its callback stores the exit code in `*exit_code`.
void AddServeCommand(CLI::App& app, const CommonOptions& common, int* exit_code);
void AddImportCommand(CLI::App& app, const CommonOptions& common, int* exit_code);
void AddSyncCommand(CLI::App& app, const CommonOptions& common, int* exit_code);
void AddLineageCommand(CLI::App& app, const CommonOptions& common, int* exit_code);
void AddVerifyCommand(CLI::App& app, const CommonOptions& common, int* exit_code);
void AddManifestCommand(CLI::App& app, const CommonOptions& common, int* exit_code);
void AddCheckCommand(CLI::App& app, const CommonOptions& common, int* exit_code);
void AddGcCommand(CLI::App& app, const CommonOptions& common, int* exit_code);
void AddDuCommand(CLI::App& app, const CommonOptions& common, int* exit_code);
// jobs [list|show|start|cancel|wait|reload|config]: a running server's, over its admin API.
void AddJobsCommand(CLI::App& app, const CommonOptions& common, int* exit_code);
// inventory, export and import-bundle.
void AddBundleCommands(CLI::App& app, const CommonOptions& common, int* exit_code);
// user, org and token.
void AddIdentityCommands(CLI::App& app, const CommonOptions& common, int* exit_code);
// repo settings, access grant|revoke and audit.
void AddAccessCommands(CLI::App& app, const CommonOptions& common, int* exit_code);

// Registers a group of subcommands (`user`, `access`, ...): one of its own subcommands must
// follow its name.
CLI::App* AddCommandGroup(CLI::App& app, const std::string& name, const std::string& description);

// The registry of the data directory, which must exist already (a mistyped --data is an error,
// not a new empty instance).
Result<std::unique_ptr<registry::Registry>> OpenExistingRegistry(const CommonOptions& common,
                                                                 registry::Registry::Mode mode);

// Opens the data directory's registry for writing (it must exist, as OpenExistingRegistry says),
// makes the change and, when it succeeded, records the action it returns in the audit log (actor
// "operator", no address, outcome "ok").
Status ApplyOperatorAction(
    const CommonOptions& common,
    const std::function<Result<api::AdminAction>(registry::Registry& registry)>& change);

// The content of a file named on the command line; one that cannot be read is a usage error.
Result<std::string> ReadArgumentFile(const std::filesystem::path& path);

// This instance's manifest signing key (Ed25519), created in the data directory on first use,
// readable by its owner only.
Result<std::shared_ptr<const SigningKey>> LoadSigningKey(const CommonOptions& common);

}  // namespace hubmirror::cli
