#include <iostream>
#include <optional>

#include "api/lineage_format.h"
#include "cli/commands.h"
#include "registry/registry.h"

namespace hubmirror::cli {
namespace {

struct LineageArgs {
  std::string repo;
  bool up = false;
  bool down = false;
  int depth = 0;
  std::string relation;
  std::string format = "text";
  bool stats = false;
};

int RunLineage(const CommonOptions& common, const LineageArgs& args) {
  if (Status valid = ValidateRepoId(args.repo); !valid.ok()) return ReportFailure(valid);
  if (args.stats && args.format == "dot") {
    return ReportFailure(InvalidArgument("--stats is given in text or json, not dot"));
  }
  auto registry = OpenExistingRegistry(common, registry::Registry::Mode::kReadOnly);
  if (!registry.ok()) return ReportFailure(registry.status());
  auto direction = args.up     ? registry::LineageDirection::kUp
                   : args.down ? registry::LineageDirection::kDown
                               : registry::LineageDirection::kBoth;
  auto graph = (*registry)->Lineage(args.repo, direction, args.depth, args.relation);
  if (!graph.ok()) return ReportFailure(graph.status());
  if (graph->edges.empty() && !graph->nodes.front().mirrored) {
    std::cerr << "hubmirror: no lineage known for " << args.repo << std::endl;
    return kExitProblem;
  }
  std::optional<registry::FamilyStats> family;
  if (args.stats) {
    auto counted = (*registry)->Family(args.repo);
    if (!counted.ok()) return ReportFailure(counted.status());
    family = *counted;
  }
  if (args.format == "json") {
    nlohmann::json body = api::LineageJson(*graph);
    if (family) body["family"] = api::FamilyJson(*family);
    std::cout << body.dump(2) << std::endl;
  } else if (args.format == "dot") {
    std::cout << api::LineageDot(*graph);
  } else {
    std::cout << api::LineageText(*graph, direction);
    if (family) std::cout << api::FamilyText(graph->nodes.front().id, *family);
  }
  return kExitOk;
}

}  // namespace

void AddLineageCommand(CLI::App& app, const CommonOptions& common, int* exit_code) {
  auto args = std::make_shared<LineageArgs>();
  CLI::App* command = app.add_subcommand(
      "lineage", "what a model is built on (--up), what is built on it (--down), or both");
  command->add_option("REPO", args->repo, "model id, ORG/NAME")->required();
  auto* up = command->add_flag("--up", args->up, "ancestors, up to the foundation model(s)");
  command->add_flag("--down", args->down, "descendants")->excludes(up);
  command->add_option("--depth", args->depth, "at most this many steps (0: no limit)")
      ->check(CLI::Range(0, 1000));
  command->add_option("--relation", args->relation, "only this relation")
      ->check(CLI::IsMember({"finetune", "adapter", "quantized", "merge", "unknown"}));
  command->add_flag("--stats", args->stats,
                    "also count the family: models by relation, bytes stored and shared with the "
                    "base through deduplication (text and json)");
  command->add_option("--format", args->format, "text, json or dot")
      ->capture_default_str()
      ->check(CLI::IsMember({"text", "json", "dot"}));
  command->callback([&common, args, exit_code] { *exit_code = RunLineage(common, *args); });
}

}  // namespace hubmirror::cli
