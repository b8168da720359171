#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "registry/registry.h"
#include "sync/upstream_hub.h"

namespace hubmirror::sync {

// The YAML front matter of a README.md (between a leading `---` line and the next `---` line)
// converted to JSON, which is what the Hub serves as `cardData`. A README without front matter
// gives a null json. kInvalidArgument when the front matter is not valid YAML or not a mapping.
Result<nlohmann::json> ParseFrontMatter(std::string_view readme);

// What a model card implies for the repo, as the Hub derives it: tags (card tags, license:,
// dataset:, language, file formats, base_model: and base_model:RELATION:), pipeline and library,
// and one lineage edge per declared base model. Invalid base model ids are skipped and reported.
struct CardInfo {
  std::vector<std::string> tags;
  std::string pipeline_tag;
  std::string library_name;
  std::vector<registry::LineageEdge> lineage;
  std::vector<std::string> warnings;
};

// `file_paths` are the repo's files, used by the relation heuristics (GGUF files mean
// quantized, adapter_config.json means adapter). Pure function.
CardInfo DeriveCardInfo(std::string_view repo_id, const nlohmann::json& card_data,
                        const std::vector<std::string>& file_paths);

// The lineage of a repo mirrored from an upstream: its base models as the upstream states them
// (source "baseModels") when it does; else the edges its card implies, with the relation the
// upstream declares in its `base_model:RELATION:ID` tags preferred over local inference.
// Invalid ids and self-references are skipped and logged.
std::vector<registry::LineageEdge> UpstreamLineage(const std::string& repo_id,
                                                   const nlohmann::json& card_data,
                                                   const std::vector<std::string>& upstream_tags,
                                                   const std::optional<BaseModels>& base_models,
                                                   const std::vector<std::string>& file_paths);

}  // namespace hubmirror::sync
