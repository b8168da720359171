#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "registry/registry.h"

namespace hubmirror::api {

// Renderings of a lineage graph, shared by the HTTP API and the CLI. Pure functions.

// {"root", "nodes": [{id, mirrored, pipeline_tag, library_name, downloads}] (details only for
//  models whose details are known),
//  "edges": [{child, parent, relation, source, inferred}], "roots": [the foundation models, when
//  the graph went up to them]}
nlohmann::json LineageJson(const registry::LineageGraph& graph);
// Graphviz: edges point from child to parent, labelled with the relation; models that are not
// mirrored here are dashed.
std::string LineageDot(const registry::LineageGraph& graph);
// An indented tree from the root, one model per line with the relation that links it, "(not
// mirrored)" where it applies; a model met twice (merges, cycles) is shown once and then marked.
std::string LineageText(const registry::LineageGraph& graph, registry::LineageDirection direction);

// {"models", "mirrored", "relations": {relation: count}, "bytes_stored", "bytes_shared_with_base"}
nlohmann::json FamilyJson(const registry::FamilyStats& family);
// Two lines: the family's size by relation, then its bytes on disk and those shared with the base.
std::string FamilyText(const std::string& model, const registry::FamilyStats& family);

}  // namespace hubmirror::api
