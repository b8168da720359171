#include "sync/model_card.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <set>

#include "common/front_matter.h"
#include "common/log.h"
#include "common/names.h"

namespace hubmirror::sync {
namespace {

constexpr size_t kMaxFrontMatterBytes = 1 << 20;
constexpr int kMaxYamlDepth = 64;

// YAML scalars carry no type; resolve plain ones the way YAML 1.2's core schema does and keep
// quoted ones (tag "!") as strings.
nlohmann::json ScalarToJson(const YAML::Node& node) {
  const std::string& text = node.Scalar();
  if (node.Tag() == "!") return text;
  if (text == "~" || text == "null" || text == "Null" || text == "NULL" || text.empty()) {
    return nullptr;
  }
  if (text == "true" || text == "True" || text == "TRUE") return true;
  if (text == "false" || text == "False" || text == "FALSE") return false;
  char* end = nullptr;
  errno = 0;
  long long integer = std::strtoll(text.c_str(), &end, 10);
  if (errno == 0 && end != text.c_str() && *end == '\0') return integer;
  double number = std::strtod(text.c_str(), &end);
  if (end != text.c_str() && *end == '\0' &&
      text.find_first_of("0123456789") != std::string::npos) {
    return number;
  }
  return text;
}

Result<nlohmann::json> YamlToJson(const YAML::Node& node, int depth) {
  if (depth > kMaxYamlDepth) return InvalidArgument("front matter nested too deeply");
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      return ScalarToJson(node);
    case YAML::NodeType::Sequence: {
      nlohmann::json array = nlohmann::json::array();
      for (const auto& item : node) {
        auto value = YamlToJson(item, depth + 1);
        if (!value.ok()) return value;
        array.push_back(std::move(value.value()));
      }
      return array;
    }
    case YAML::NodeType::Map: {
      nlohmann::json object = nlohmann::json::object();
      for (const auto& item : node) {
        if (!item.first.IsScalar()) return InvalidArgument("front matter has a non-scalar key");
        auto value = YamlToJson(item.second, depth + 1);
        if (!value.ok()) return value;
        object[item.first.Scalar()] = std::move(value.value());
      }
      return object;
    }
    default:
      return nlohmann::json(nullptr);
  }
}

// Strings of a field that may be a string or a list of strings.
std::vector<std::string> StringOrList(const nlohmann::json& card, const char* key) {
  std::vector<std::string> out;
  auto it = card.find(key);
  if (it == card.end()) return out;
  if (it->is_string()) {
    out.push_back(it->get<std::string>());
  } else if (it->is_array()) {
    for (const auto& item : *it) {
      if (item.is_string()) out.push_back(item.get<std::string>());
    }
  }
  return out;
}

bool EndsWith(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

std::string InferRelation(size_t parent_count, const std::set<std::string>& tags,
                          const std::string& library_name,
                          const std::vector<std::string>& file_paths) {
  if (parent_count >= 2) return "merge";
  for (const char* quantized : {"gguf", "gptq", "awq", "exl2", "bitsandbytes"}) {
    if (tags.count(quantized)) return "quantized";
  }
  for (const auto& path : file_paths) {
    if (EndsWith(AsciiLower(path), ".gguf")) return "quantized";
  }
  if (tags.count("lora") || tags.count("peft") || library_name == "peft") return "adapter";
  for (const auto& path : file_paths) {
    if (path == "adapter_config.json" || EndsWith(path, "/adapter_config.json")) return "adapter";
  }
  return "finetune";
}

}  // namespace

Result<nlohmann::json> ParseFrontMatter(std::string_view readme) {
  std::optional<FrontMatterSplit> split = SplitFrontMatter(readme);
  if (!split) return nlohmann::json(nullptr);
  if (!split->closed) return InvalidArgument("README.md front matter has no closing '---' line");
  if (split->yaml.size() > kMaxFrontMatterBytes) {
    return InvalidArgument("README.md front matter is larger than 1 MiB");
  }
  std::string yaml(split->yaml);
  try {
    YAML::Node root = YAML::Load(yaml);
    if (root.IsNull()) return nlohmann::json::object();
    if (!root.IsMap()) return InvalidArgument("README.md front matter is not a YAML mapping");
    auto json = YamlToJson(root, 0);
    if (!json.ok()) return InvalidArgument("README.md " + json.status().message());
    return json;
  } catch (const YAML::Exception& e) {
    return InvalidArgument(std::string("README.md front matter is not valid YAML: ") + e.what());
  }
}

CardInfo DeriveCardInfo(std::string_view repo_id, const nlohmann::json& card_data,
                        const std::vector<std::string>& file_paths) {
  CardInfo info;
  std::vector<std::string> tags;
  std::set<std::string> seen;
  auto add_tag = [&](const std::string& tag) {
    if (!tag.empty() && seen.insert(tag).second) tags.push_back(tag);
  };
  const nlohmann::json card = card_data.is_object() ? card_data : nlohmann::json::object();
  if (auto it = card.find("library_name"); it != card.end() && it->is_string()) {
    info.library_name = it->get<std::string>();
  }
  if (auto it = card.find("pipeline_tag"); it != card.end() && it->is_string()) {
    info.pipeline_tag = it->get<std::string>();
  }
  add_tag(info.library_name);
  for (const auto& path : file_paths) {
    std::string lower = AsciiLower(path);
    if (EndsWith(lower, ".safetensors")) add_tag("safetensors");
    if (EndsWith(lower, ".gguf")) add_tag("gguf");
    if (EndsWith(lower, ".onnx")) add_tag("onnx");
  }
  for (const auto& tag : StringOrList(card, "tags")) add_tag(tag);
  add_tag(info.pipeline_tag);
  for (const auto& language : StringOrList(card, "language")) add_tag(language);
  for (const auto& dataset : StringOrList(card, "datasets")) add_tag("dataset:" + dataset);
  for (const auto& license : StringOrList(card, "license")) add_tag("license:" + license);

  std::vector<std::string> parents;
  for (const auto& parent : StringOrList(card, "base_model")) {
    Status valid = ValidateRepoId(parent);
    if (!valid.ok()) {
      info.warnings.push_back("skipping base_model: " + valid.message());
    } else if (AsciiLower(parent) == AsciiLower(repo_id)) {
      info.warnings.push_back("skipping base_model '" + parent + "': a model is not its own base");
    } else {
      parents.push_back(parent);
    }
  }
  std::string relation;
  bool inferred = false;
  if (auto it = card.find("base_model_relation"); it != card.end() && it->is_string()) {
    std::string declared = it->get<std::string>();
    if (declared == "adapter" || declared == "merge" || declared == "quantized" ||
        declared == "finetune") {
      relation = declared;
    } else {
      info.warnings.push_back("ignoring unknown base_model_relation '" + declared + "'");
    }
  }
  if (relation.empty() && !parents.empty()) {
    relation = InferRelation(parents.size(), seen, info.library_name, file_paths);
    inferred = true;
  }
  for (const auto& parent : parents) {
    add_tag("base_model:" + parent);
    add_tag("base_model:" + relation + ":" + parent);
    info.lineage.push_back(
        registry::LineageEdge{std::string(repo_id), parent, relation, "card", inferred});
  }
  info.tags = std::move(tags);
  return info;
}

std::vector<registry::LineageEdge> UpstreamLineage(const std::string& repo_id,
                                                   const nlohmann::json& card_data,
                                                   const std::vector<std::string>& upstream_tags,
                                                   const std::optional<BaseModels>& base_models,
                                                   const std::vector<std::string>& file_paths) {
  if (base_models) {
    const std::string& given = base_models->relation;
    bool known =
        given == "adapter" || given == "merge" || given == "quantized" || given == "finetune";
    std::vector<registry::LineageEdge> edges;
    for (const auto& parent : base_models->ids) {
      if (Status valid = ValidateRepoId(parent); !valid.ok()) {
        Log(LogLevel::kWarning, repo_id + ": upstream base model skipped: " + valid.message());
      } else if (AsciiLower(parent) != AsciiLower(repo_id)) {
        edges.push_back(
            registry::LineageEdge{repo_id, parent, known ? given : "unknown", "baseModels", false});
      }
    }
    return edges;
  }
  CardInfo card = DeriveCardInfo(repo_id, card_data, file_paths);
  for (auto& edge : card.lineage) {
    for (const char* relation : {"adapter", "merge", "quantized", "finetune"}) {
      std::string tag = std::string("base_model:") + relation + ":" + edge.parent;
      for (const auto& upstream_tag : upstream_tags) {
        if (upstream_tag == tag) {
          edge.relation = relation;
          edge.inferred = false;
        }
      }
    }
  }
  for (const auto& warning : card.warnings) Log(LogLevel::kWarning, repo_id + ": " + warning);
  return card.lineage;
}

}  // namespace hubmirror::sync
