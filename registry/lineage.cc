// Lineage: edges between models, the details of models seen along them, and graph walks.
#include <algorithm>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "common/clock.h"
#include "registry/lineage_index.h"
#include "registry/registry.h"
#include "registry/sqlite.h"

namespace hubmirror::registry {
namespace {

// Every edge reachable from ?1 in one direction, in one recursive query. The walk's rows are ids
// alone, so UNION expands each model once: merges (diamonds) cost nothing extra and cycles end.
std::string LineageWalkSql(bool up, bool by_relation) {
  std::string from = up ? "child_lower" : "parent_lower";
  std::string to = up ? "parent_lower" : "child_lower";
  std::string relation = by_relation ? " AND e.relation = ?2" : "";
  return "WITH RECURSIVE walk(id) AS (SELECT ?1 UNION SELECT e." + to +
         " FROM lineage_edges e JOIN walk w ON e." + from + " = w.id" + relation +
         ") SELECT e.child, e.parent, e.relation, e.source, e.inferred FROM lineage_edges e "
         "JOIN walk w ON e." +
         from + " = w.id" + relation;
}

// The edges of one model in one direction (for walks limited in depth).
std::string LineageStepSql(bool up, bool by_relation) {
  return std::string("SELECT child, parent, relation, source, inferred FROM lineage_edges WHERE ") +
         (up ? "child_lower" : "parent_lower") + " = ?1" +
         (by_relation ? " AND relation = ?2" : "");
}

// Reads the columns child, parent, relation, source, inferred.
LineageEdge ReadLineageEdge(const Statement& s) {
  return LineageEdge{s.Text(0), s.Text(1), s.Text(2), s.Text(3), s.Int(4) != 0};
}

}  // namespace

Result<std::vector<LineageEdge>> Registry::ParentEdges(std::string_view child) {
  Statement s(*statements_,
              "SELECT child, parent, relation, source, inferred FROM lineage_edges "
              "WHERE child_lower = ? ORDER BY parent_lower");
  s.Bind(1, AsciiLower(child));
  std::vector<LineageEdge> edges;
  while (s.Step()) edges.push_back(ReadLineageEdge(s));
  if (!s.status().ok()) return s.status();
  return edges;
}

Result<LineageGraph> Registry::Lineage(std::string_view model, LineageDirection direction,
                                       int max_depth, std::string_view relation) {
  // Many small reads: one read transaction takes the database locks once for all of them.
  ReadSnapshot snapshot(*this);
  HM_RETURN_IF_ERROR(snapshot.status());
  if (lineage_index_ != nullptr) {
    auto generation = LineageGeneration();
    if (!generation.ok()) return generation.status();
    if (auto index = lineage_index_->Current(*generation)) {
      return index->Lineage(model, direction, max_depth, relation);
    }
  }
  std::unordered_set<std::string> seen;  // "child\nparent", lower-cased
  LineageGraph graph;
  auto take = [&](Statement& s) {
    LineageEdge edge = ReadLineageEdge(s);
    if (seen.insert(AsciiLower(edge.child) + "\n" + AsciiLower(edge.parent)).second) {
      graph.edges.push_back(std::move(edge));
    }
  };
  for (bool up : {true, false}) {
    if ((up && direction == LineageDirection::kDown) ||
        (!up && direction == LineageDirection::kUp)) {
      continue;
    }
    if (max_depth <= 0) {
      Statement s(*statements_, LineageWalkSql(up, !relation.empty()));
      s.Bind(1, AsciiLower(model));
      if (!relation.empty()) s.Bind(2, relation);
      while (s.Step()) take(s);
      HM_RETURN_IF_ERROR(s.status());
      continue;
    }
    // Breadth first, one level per round, each model expanded once.
    Statement step(*statements_, LineageStepSql(up, !relation.empty()));
    std::set<std::string> visited = {AsciiLower(model)};
    std::vector<std::string> level = {AsciiLower(model)};
    for (int depth = 0; depth < max_depth && !level.empty(); ++depth) {
      std::vector<std::string> next;
      for (const auto& id : level) {
        step.Reset();
        step.Bind(1, id);
        if (!relation.empty()) step.Bind(2, relation);
        while (step.Step()) {
          std::string neighbour = AsciiLower(step.Text(up ? 1 : 0));
          take(step);
          if (visited.insert(neighbour).second) next.push_back(neighbour);
        }
        HM_RETURN_IF_ERROR(step.status());
      }
      level = std::move(next);
    }
  }
  {
    std::vector<std::pair<std::string, size_t>> keys;  // "child\nparent" lower-cased, position
    keys.reserve(graph.edges.size());
    for (size_t i = 0; i < graph.edges.size(); ++i) {
      keys.emplace_back(AsciiLower(graph.edges[i].child) + '\n' + AsciiLower(graph.edges[i].parent),
                        i);
    }
    std::sort(keys.begin(), keys.end());
    std::vector<LineageEdge> sorted;
    sorted.reserve(keys.size());
    for (const auto& key : keys) sorted.push_back(std::move(graph.edges[key.second]));
    graph.edges = std::move(sorted);
  }
  // Nodes: the model, then every id on an edge in lower-case order, with their details where
  // known. A model not described is spelt as the query spells it, else as the smallest spelling
  // the edges use.
  std::map<std::string, std::string> ids;  // lower -> spelling
  ids.emplace(AsciiLower(model), std::string(model));
  for (const auto& edge : graph.edges) {
    for (const std::string* id : {&edge.child, &edge.parent}) {
      auto [it, added] = ids.emplace(AsciiLower(*id), *id);
      if (!added && it->first != AsciiLower(model) && *id < it->second) it->second = *id;
    }
  }
  // Details come from the repos mirrored, else from what lineage sync recorded. Small graphs look
  // their models up; large ones read both tables once (far fewer rows than cards name) and join.
  constexpr size_t kScanAbove = 256;
  std::unordered_map<std::string, LineageNode> details;
  for (bool mirrored : {false, true}) {
    std::string table = mirrored ? "repos WHERE type = 'model'" : "lineage_models WHERE 1";
    Statement s(*statements_,
                "SELECT name_lower, name, pipeline_tag, library_name, downloads "
                "FROM " +
                    table + (ids.size() > kScanAbove ? "" : " AND name_lower = ?"));
    auto read = [&] {
      while (s.Step()) {
        details[s.Text(0)] = LineageNode{s.Text(1), mirrored, s.Text(2), s.Text(3), s.Int(4), true};
      }
      return s.status();
    };
    if (ids.size() > kScanAbove) {
      HM_RETURN_IF_ERROR(read());
      continue;
    }
    for (const auto& [lower, written] : ids) {
      s.Reset();
      s.Bind(1, lower);
      HM_RETURN_IF_ERROR(read());
    }
  }
  auto node_of = [&](const std::string& lower, const std::string& written) {
    auto found = details.find(lower);
    return found != details.end() ? found->second : LineageNode{written, false, "", "", 0, false};
  };
  graph.nodes.push_back(node_of(AsciiLower(model), std::string(model)));
  std::unordered_map<std::string, std::string> node_ids;  // lower -> the node's id
  node_ids[AsciiLower(model)] = graph.nodes.front().id;
  for (const auto& [lower, written] : ids) {
    if (lower == AsciiLower(model)) continue;
    graph.nodes.push_back(node_of(lower, written));
    node_ids[lower] = graph.nodes.back().id;
  }
  // Cards spell ids in any case: edges use the nodes' ids so that the two always join.
  for (auto& edge : graph.edges) {
    edge.child = node_ids[AsciiLower(edge.child)];
    edge.parent = node_ids[AsciiLower(edge.parent)];
  }
  FillLineageRoots(graph, direction, max_depth);
  return graph;
}

Result<FamilyStats> Registry::Family(std::string_view model) {
  ReadSnapshot snapshot(*this);
  HM_RETURN_IF_ERROR(snapshot.status());
  auto graph = Lineage(model, LineageDirection::kDown, 0, "");
  if (!graph.ok()) return graph.status();
  FamilyStats stats;
  stats.models = static_cast<int64_t>(graph->nodes.size());
  for (const auto& edge : graph->edges) ++stats.relations[edge.relation];
  Statement content(*statements_,
                    "SELECT DISTINCT e.sha256, e.size FROM repos r "
                    "JOIN refs f ON f.repo_id = r.id AND f.kind = 'branch' AND "
                    "f.name = r.default_branch "
                    "JOIN entries e ON e.repo_id = r.id AND e.commit_id = f.commit_id "
                    "WHERE r.type = 'model' AND r.name_lower = ? AND e.type = 'file' AND "
                    "e.sha256 IS NOT NULL");
  std::unordered_map<std::string, uint64_t> family_content;
  std::unordered_set<std::string> base_content, descendant_content;
  for (const auto& node : graph->nodes) {
    if (!node.mirrored) continue;
    ++stats.mirrored;
    bool base = &node == &graph->nodes.front();
    content.Reset();
    content.Bind(1, AsciiLower(node.id));
    while (content.Step()) {
      family_content[content.Text(0)] = static_cast<uint64_t>(content.Int(1));
      (base ? base_content : descendant_content).insert(content.Text(0));
    }
    HM_RETURN_IF_ERROR(content.status());
  }
  for (const auto& [sha256, size] : family_content) {
    stats.bytes_stored += size;
    if (base_content.contains(sha256) && descendant_content.contains(sha256)) {
      stats.bytes_shared_with_base += size;
    }
  }
  return stats;
}

Status Registry::ForEachLineageEdge(const std::function<void(const LineageEdge&)>& edge) {
  Statement s(*statements_, "SELECT child, parent, relation, source, inferred FROM lineage_edges");
  while (s.Step()) edge(ReadLineageEdge(s));
  return s.status();
}

Status Registry::ForEachModelDetails(const std::function<void(const LineageNode&)>& model) {
  for (bool mirrored : {false, true}) {
    Statement s(*statements_,
                std::string("SELECT name, pipeline_tag, library_name, downloads FROM ") +
                    (mirrored ? "repos WHERE type = 'model'" : "lineage_models"));
    while (s.Step()) {
      model(LineageNode{s.Text(0), mirrored, s.Text(1), s.Text(2), s.Int(3), true});
    }
    HM_RETURN_IF_ERROR(s.status());
  }
  return Status::Ok();
}

void Registry::UseLineageIndex(std::shared_ptr<LineageIndexCache> cache) {
  lineage_index_ = std::move(cache);
}

Status Registry::AddLineageEdges(const std::vector<LineageEdge>& edges) {
  WriteTransaction transaction(db_);
  HM_RETURN_IF_ERROR(transaction.Begin());
  HM_RETURN_IF_ERROR(UpsertLineageEdges(edges));
  return transaction.Commit();
}

Status Registry::UpsertLineageEdges(const std::vector<LineageEdge>& edges) {
  Statement s(*statements_,
              "INSERT INTO lineage_edges (child, child_lower, parent, parent_lower, relation, "
              "source, inferred) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
              "relation = excluded.relation, source = excluded.source, "
              "inferred = excluded.inferred "
              // What a child's own metadata (card, or the upstream's baseModels of it) says is
              // not overridden by what others report of it.
              "WHERE lineage_edges.source NOT IN ('card', 'baseModels') OR "
              "excluded.source IN ('card', 'baseModels')");
  for (const auto& edge : edges) {
    s.Reset();
    s.Bind(1, edge.child).Bind(2, AsciiLower(edge.child)).Bind(3, edge.parent);
    s.Bind(4, AsciiLower(edge.parent)).Bind(5, edge.relation).Bind(6, edge.source);
    s.Bind(7, edge.inferred ? 1 : 0);
    HM_RETURN_IF_ERROR(s.Run());
  }
  return Status::Ok();
}

Result<std::map<std::string, int64_t>> Registry::ChildCountsByRelation(std::string_view parent) {
  Statement s(*statements_,
              "SELECT relation, count(*) FROM lineage_edges WHERE parent_lower = ? "
              "AND child_lower != parent_lower GROUP BY relation");
  s.Bind(1, AsciiLower(parent));
  std::map<std::string, int64_t> counts;
  while (s.Step()) counts[s.Text(0)] = s.Int(1);
  if (!s.status().ok()) return s.status();
  return counts;
}

Status Registry::RecordModelDetails(const std::vector<ModelDetails>& models) {
  WriteTransaction transaction(db_);
  HM_RETURN_IF_ERROR(transaction.Begin());
  HM_RETURN_IF_ERROR(WriteModelDetails(models));
  return transaction.Commit();
}

Status Registry::WriteModelDetails(const std::vector<ModelDetails>& models) {
  Statement known(*statements_,
                  "INSERT INTO lineage_models (name_lower, name, pipeline_tag, library_name, "
                  "downloads, updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name_lower) DO "
                  "UPDATE SET name = excluded.name, pipeline_tag = excluded.pipeline_tag, "
                  "library_name = excluded.library_name, downloads = excluded.downloads, "
                  "updated_at = excluded.updated_at WHERE name != excluded.name OR "
                  "pipeline_tag != excluded.pipeline_tag OR library_name != "
                  "excluded.library_name OR downloads != excluded.downloads");
  Statement mirrored(*statements_,
                     "UPDATE repos SET downloads = ? WHERE type = 'model' AND name_lower = ? AND "
                     "downloads != ?");
  int64_t now = NowUnixMillis();
  for (const auto& model : models) {
    known.Reset();
    known.Bind(1, AsciiLower(model.id)).Bind(2, model.id).Bind(3, model.pipeline_tag);
    known.Bind(4, model.library_name).Bind(5, model.downloads).Bind(6, now);
    HM_RETURN_IF_ERROR(known.Run());
    mirrored.Reset();
    mirrored.Bind(1, model.downloads).Bind(2, AsciiLower(model.id)).Bind(3, model.downloads);
    HM_RETURN_IF_ERROR(mirrored.Run());
  }
  return Status::Ok();
}

Result<int64_t> Registry::LineageGeneration() {
  Statement s(*statements_, "SELECT value FROM lineage_generation");
  if (!s.Step()) return s.status().ok() ? Internal("lineage_generation has no row") : s.status();
  return s.Int(0);
}

}  // namespace hubmirror::registry
