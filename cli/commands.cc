#include "cli/commands.h"

#include <iostream>

#include "common/files.h"

namespace hubmirror::cli {

int ReportFailure(const Status& status) {
  std::cerr << "hubmirror: " << status.message() << std::endl;
  return status.code() == StatusCode::kInvalidArgument ||
                 status.code() == StatusCode::kFailedPrecondition
             ? kExitUsage
             : kExitProblem;
}

CLI::App* AddCommandGroup(CLI::App& app, const std::string& name, const std::string& description) {
  CLI::App* group = app.add_subcommand(name, description);
  group->require_subcommand(1);
  return group;
}

Result<std::unique_ptr<registry::Registry>> OpenExistingRegistry(const CommonOptions& common,
                                                                 registry::Registry::Mode mode) {
  std::filesystem::path db = common.data_dir / "registry.db";
  std::error_code ec;
  if (!std::filesystem::exists(db, ec)) {
    return InvalidArgument("no registry at " + db.string() + " (see --data)");
  }
  return registry::Registry::Open(db, mode);
}

Status ApplyOperatorAction(
    const CommonOptions& common,
    const std::function<Result<api::AdminAction>(registry::Registry& registry)>& change) {
  auto registry = OpenExistingRegistry(common, registry::Registry::Mode::kReadWrite);
  if (!registry.ok()) return registry.status();
  auto done = change(**registry);
  if (!done.ok()) return done.status();
  return (*registry)->RecordAudit(api::AuditRecord(*done, "operator", ""));
}

Result<std::string> ReadArgumentFile(const std::filesystem::path& path) {
  auto text = ReadTextFile(path);
  if (!text.ok()) return InvalidArgument(text.status().message());
  return text;
}

Result<std::shared_ptr<const SigningKey>> LoadSigningKey(const CommonOptions& common) {
  std::error_code error;
  std::filesystem::create_directories(common.data_dir, error);
  if (error) return IoError("cannot create " + common.data_dir.string() + ": " + error.message());
  return SigningKey::LoadOrCreate(common.data_dir / "signing-key.pem");
}

int RunCommandLine(int argc, const char* const* argv) {
  CLI::App app{"hubmirror: a verified, self-hosted mirror of Hugging Face Hub repositories"};
  app.require_subcommand(1);
  app.fallthrough();  // lets `--data` follow the subcommand name, as documented
  CommonOptions common;
  app.add_option("--data", common.data_dir, "data directory (registry.db, blobs/, tmp/, ...)")
      ->capture_default_str();
  int exit_code = kExitOk;
  AddServeCommand(app, common, &exit_code);
  AddImportCommand(app, common, &exit_code);
  AddSyncCommand(app, common, &exit_code);
  AddLineageCommand(app, common, &exit_code);
  AddVerifyCommand(app, common, &exit_code);
  AddManifestCommand(app, common, &exit_code);
  AddCheckCommand(app, common, &exit_code);
  AddGcCommand(app, common, &exit_code);
  AddDuCommand(app, common, &exit_code);
  AddJobsCommand(app, common, &exit_code);
  AddBundleCommands(app, common, &exit_code);
  AddIdentityCommands(app, common, &exit_code);
  AddAccessCommands(app, common, &exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "hubmirror: " << e.what() << " (see hubmirror --help)" << std::endl;
    return kExitUsage;
  } catch (const std::exception& e) {
    // Modules report errors as Status; this catches only what a library throws unexpectedly.
    std::cerr << "hubmirror: " << e.what() << std::endl;
    return kExitProblem;
  }
  return exit_code;
}

}  // namespace hubmirror::cli
