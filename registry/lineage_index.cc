#include "registry/lineage_index.h"

#include <algorithm>
#include <chrono>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "common/log.h"
#include "common/names.h"

namespace hubmirror::registry {
namespace {

// How far ahead a walk prefetches the offsets of the models of its level.
constexpr size_t kPrefetchDistance = 16;
// Walks that take at least this many edges build their nodes and edges on two threads.
constexpr size_t kParallelBuildEdges = 20000;

}  // namespace

void FillLineageRoots(LineageGraph& graph, LineageDirection direction, int max_depth) {
  if (direction == LineageDirection::kDown || max_depth > 0) return;
  std::unordered_set<std::string_view> children;
  for (const auto& edge : graph.edges) {
    if (edge.child != edge.parent) children.insert(edge.child);
  }
  for (const auto& node : graph.nodes) {
    if (!children.contains(node.id)) graph.roots.push_back(node.id);
  }
}

Result<std::shared_ptr<const LineageIndex>> LineageIndex::Build(Registry& registry) {
  ReadSnapshot snapshot(registry);
  HM_RETURN_IF_ERROR(snapshot.status());
  auto index = std::make_shared<LineageIndex>();
  auto generation = registry.LineageGeneration();
  if (!generation.ok()) return generation.status();
  index->generation_ = *generation;

  // Strings interned: each table maps a string to its position in `strings`.
  struct Interned {
    std::unordered_map<std::string, uint32_t> positions;
    std::vector<std::string>* strings;
    uint32_t operator()(const std::string& text) {
      auto [it, added] = positions.emplace(text, static_cast<uint32_t>(strings->size()));
      if (added) strings->push_back(text);
      return it->second;
    }
  };
  Interned spelling{{}, &index->spellings_};
  Interned label{{}, &index->labels_};
  label("");
  // Models first by name as read, then renumbered in lower-case id order.
  std::unordered_map<std::string, uint32_t> numbers;
  std::vector<Model> models;
  auto model = [&](const std::string& id) {
    std::string lower = AsciiLower(id);
    auto [it, added] = numbers.emplace(lower, static_cast<uint32_t>(models.size()));
    if (added) models.push_back(Model{std::move(lower), "", false, 0, 0, 0});
    return it->second;
  };
  std::vector<Edge> edges;
  HM_RETURN_IF_ERROR(registry.ForEachLineageEdge([&](const LineageEdge& edge) {
    edges.push_back(Edge{model(edge.child), model(edge.parent), spelling(edge.child),
                         spelling(edge.parent), label(edge.relation), label(edge.source),
                         edge.inferred});
  }));
  HM_RETURN_IF_ERROR(registry.ForEachModelDetails([&](const LineageNode& node) {
    Model& described = models[model(node.id)];
    described.name = node.id;
    described.mirrored = node.mirrored;
    described.pipeline_tag = label(node.pipeline_tag);
    described.library_name = label(node.library_name);
    described.downloads = node.downloads;
  }));

  std::vector<uint32_t> order(models.size());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](uint32_t a, uint32_t b) { return models[a].lower < models[b].lower; });
  std::vector<uint32_t> renumbered(models.size());
  index->models_.reserve(models.size());
  for (uint32_t rank = 0; rank < order.size(); ++rank) {
    renumbered[order[rank]] = rank;
    index->models_.push_back(std::move(models[order[rank]]));
  }
  std::vector<bool> spelt(index->models_.size());
  auto spell = [&](uint32_t m, uint32_t spelling) {
    Model& named = index->models_[m];
    if (!spelt[m]) {
      spelt[m] = true;
      named.spelling = spelling;
    } else if (named.spelling != spelling) {
      named.spelling = kVariedSpelling;
      index->any_varied_spelling_ = true;
    }
  };
  for (auto& edge : edges) {
    edge.child = renumbered[edge.child];
    edge.parent = renumbered[edge.parent];
    spell(edge.child, edge.child_spelling);
    spell(edge.parent, edge.parent_spelling);
  }
  std::sort(edges.begin(), edges.end(), [](const Edge& a, const Edge& b) {
    return std::tie(a.child, a.parent) < std::tie(b.child, b.parent);
  });
  index->edges_ = std::move(edges);

  size_t count = index->models_.size();
  index->up_offsets_.assign(count + 1, 0);
  index->down_offsets_.assign(count + 1, 0);
  for (const auto& edge : index->edges_) {
    ++index->up_offsets_[edge.child + 1];
    ++index->down_offsets_[edge.parent + 1];
  }
  for (size_t m = 0; m < count; ++m) {
    index->up_offsets_[m + 1] += index->up_offsets_[m];
    index->down_offsets_[m + 1] += index->down_offsets_[m];
  }
  index->down_edges_.resize(index->edges_.size());
  index->down_children_.resize(index->edges_.size());
  std::vector<uint32_t> fill(index->down_offsets_.begin(), index->down_offsets_.end() - 1);
  for (uint32_t e = 0; e < index->edges_.size(); ++e) {
    uint32_t slot = fill[index->edges_[e].parent]++;
    index->down_edges_[slot] = e;
    index->down_children_[slot] = index->edges_[e].child;
  }
  return std::shared_ptr<const LineageIndex>(std::move(index));
}

std::optional<uint32_t> LineageIndex::FindModel(std::string_view lower) const {
  auto it = std::lower_bound(models_.begin(), models_.end(), lower,
                             [](const Model& m, std::string_view key) { return m.lower < key; });
  if (it == models_.end() || it->lower != lower) return std::nullopt;
  return static_cast<uint32_t>(it - models_.begin());
}

std::optional<uint32_t> LineageIndex::FindLabel(std::string_view text) const {
  auto it = std::find(labels_.begin(), labels_.end(), text);
  if (it == labels_.end()) return std::nullopt;
  return static_cast<uint32_t>(it - labels_.begin());
}

void LineageIndex::Walk(uint32_t start, bool up, int max_depth, std::optional<uint32_t> relation,
                        std::vector<uint32_t>* taken) const {
  std::vector<uint8_t> visited(models_.size());
  std::vector<uint32_t> level = {start}, next;
  visited[start] = 1;
  const std::vector<uint32_t>& offsets = up ? up_offsets_ : down_offsets_;
  for (int depth = 0; !level.empty(); ++depth) {
    // The last level a limited walk expands takes its edges but goes no further.
    bool last = max_depth > 0 && depth + 1 >= max_depth;
    for (size_t i = 0; i < level.size(); ++i) {
      // A family's models lie anywhere in the index: their offsets are fetched ahead of use.
      // Two stages: a model's offsets, then (half as far ahead, once they have arrived) the
      // edges they point at.
      if (i + kPrefetchDistance < level.size()) {
        __builtin_prefetch(&offsets[level[i + kPrefetchDistance]]);
      }
      if (i + kPrefetchDistance / 2 < level.size()) {
        uint32_t slot = offsets[level[i + kPrefetchDistance / 2]];
        if (up) {
          __builtin_prefetch(&edges_[slot]);
        } else {
          __builtin_prefetch(&down_children_[slot]);
          __builtin_prefetch(&down_edges_[slot]);
        }
      }
      uint32_t m = level[i];
      uint32_t begin = offsets[m];
      uint32_t end = offsets[m + 1];
      for (uint32_t k = begin; k < end; ++k) {
        uint32_t e = up ? k : down_edges_[k];
        if (relation && edges_[e].relation != *relation) continue;
        taken->push_back(e);
        uint32_t neighbour = up ? edges_[e].parent : down_children_[k];
        if (!last && !visited[neighbour]) {
          visited[neighbour] = 1;
          next.push_back(neighbour);
        }
      }
    }
    level.swap(next);
    next.clear();
  }
}

LineageGraph LineageIndex::Lineage(std::string_view model, LineageDirection direction,
                                   int max_depth, std::string_view relation) const {
  LineageGraph graph;
  auto start = FindModel(AsciiLower(model));
  if (!start) {
    graph.nodes.push_back(LineageNode{std::string(model), false, "", "", 0, false});
    FillLineageRoots(graph, direction, max_depth);
    return graph;
  }
  std::optional<uint32_t> relation_label;
  if (!relation.empty()) relation_label = FindLabel(relation).value_or(kVariedSpelling);
  std::vector<uint32_t> taken;  // edge indices, whose order is (child, parent) order
  if (direction != LineageDirection::kDown) Walk(*start, true, max_depth, relation_label, &taken);
  if (direction != LineageDirection::kUp) Walk(*start, false, max_depth, relation_label, &taken);
  // In edge order, each once: a large walk marks its edges and reads the marks in order, a small
  // one sorts them.
  if (taken.size() > edges_.size() / 64) {
    std::vector<uint8_t> marked(edges_.size());
    for (uint32_t e : taken) marked[e] = 1;
    taken.clear();
    for (uint32_t e = 0; e < marked.size(); ++e) {
      if (marked[e]) taken.push_back(e);
    }
  } else {
    std::sort(taken.begin(), taken.end());
    taken.erase(std::unique(taken.begin(), taken.end()), taken.end());
  }

  // Nodes: the model, then the others in lower-case id order, which is index order. A large
  // walk marks them in a bitmap read in order; a small one sorts them.
  std::vector<uint32_t> others;
  if (taken.size() > models_.size() / 64) {
    std::vector<uint8_t> member(models_.size());
    for (uint32_t e : taken) {
      member[edges_[e].child] = 1;
      member[edges_[e].parent] = 1;
    }
    for (uint32_t m = 0; m < models_.size(); ++m) {
      if (member[m] && m != *start) others.push_back(m);
    }
  } else {
    for (uint32_t e : taken) {
      for (uint32_t m : {edges_[e].child, edges_[e].parent}) {
        if (m != *start) others.push_back(m);
      }
    }
    std::sort(others.begin(), others.end());
    others.erase(std::unique(others.begin(), others.end()), others.end());
  }
  // A model not described is spelt as the query spells it, else as the smallest spelling the
  // walk's edges use (only case variants need looking at the edges).
  std::unordered_map<uint32_t, uint32_t> varied;  // model -> spelling
  for (uint32_t e : any_varied_spelling_ ? taken : std::vector<uint32_t>{}) {
    for (auto [m, spelling] : {std::pair{edges_[e].child, edges_[e].child_spelling},
                               std::pair{edges_[e].parent, edges_[e].parent_spelling}}) {
      if (models_[m].spelling != kVariedSpelling || !models_[m].name.empty()) continue;
      auto [it, added] = varied.emplace(m, spelling);
      if (!added && spellings_[spelling] < spellings_[it->second]) it->second = spelling;
    }
  }
  // Each model's id as its node spells it; the edges copy the same strings.
  const std::string start_id(model);
  auto id_of = [&](uint32_t m) -> const std::string& {
    const Model& details = models_[m];
    if (!details.name.empty()) return details.name;
    if (m == *start) return start_id;
    return spellings_[details.spelling != kVariedSpelling ? details.spelling : varied.at(m)];
  };
  // Models lie anywhere in the index, their names anywhere on the heap: both are fetched ahead
  // of the copies, in two stages.
  auto prefetch_model = [&](uint32_t m, bool name) {
    if (name) {
      __builtin_prefetch(models_[m].name.data());
    } else {
      __builtin_prefetch(&models_[m]);
    }
  };
  auto build_nodes = [&] {
    graph.nodes.reserve(others.size() + 1);
    for (size_t k = 0; k <= others.size(); ++k) {
      if (k + kPrefetchDistance < others.size())
        prefetch_model(others[k + kPrefetchDistance], false);
      if (k + kPrefetchDistance / 2 < others.size()) {
        prefetch_model(others[k + kPrefetchDistance / 2], true);
      }
      uint32_t m = k == 0 ? *start : others[k - 1];
      const Model& details = models_[m];
      graph.nodes.push_back(
          details.name.empty()
              ? LineageNode{id_of(m), false, "", "", 0, false}
              : LineageNode{details.name, details.mirrored, labels_[details.pipeline_tag],
                            labels_[details.library_name], details.downloads, true});
    }
  };
  auto build_edges = [&] {
    graph.edges.reserve(taken.size());
    for (size_t k = 0; k < taken.size(); ++k) {
      for (size_t ahead : {kPrefetchDistance, kPrefetchDistance / 2}) {
        if (k + ahead >= taken.size()) continue;
        const Edge& coming = edges_[taken[k + ahead]];
        prefetch_model(coming.child, ahead != kPrefetchDistance);
        prefetch_model(coming.parent, ahead != kPrefetchDistance);
      }
      const Edge& edge = edges_[taken[k]];
      graph.edges.push_back(LineageEdge{id_of(edge.child), id_of(edge.parent),
                                        labels_[edge.relation], labels_[edge.source],
                                        edge.inferred});
    }
  };
  // A large family's answer is mostly string copies: nodes and edges are built side by side.
  if (taken.size() >= kParallelBuildEdges) {
    std::thread edges_builder(build_edges);
    build_nodes();
    edges_builder.join();
  } else {
    build_nodes();
    build_edges();
  }
  FillLineageRoots(graph, direction, max_depth);
  return graph;
}

LineageIndexCache::~LineageIndexCache() {
  std::thread builder;
  {
    std::lock_guard lock(mutex_);
    builder = std::move(builder_);
  }
  if (builder.joinable()) builder.join();
}

std::shared_ptr<const LineageIndex> LineageIndexCache::Current(int64_t generation) {
  std::lock_guard lock(mutex_);
  if (index_ != nullptr && index_->generation() == generation) return index_;
  if (!building_) {
    if (builder_.joinable()) builder_.join();  // finished: building_ is false
    building_ = true;
    builder_ = std::thread([this] { Rebuild(); });
  }
  return nullptr;
}

LineageIndexCache::Stats LineageIndexCache::stats() const {
  std::lock_guard lock(mutex_);
  Stats stats;
  if (index_ != nullptr) {
    stats.models = index_->model_count();
    stats.edges = index_->edge_count();
  }
  stats.builds = builds_;
  stats.last_build_seconds = last_build_seconds_;
  return stats;
}

void LineageIndexCache::Rebuild() {
  auto started = std::chrono::steady_clock::now();
  std::shared_ptr<const LineageIndex> built;
  auto registry = Registry::Open(db_path_, Registry::Mode::kReadOnly);
  if (registry.ok()) {
    auto index = LineageIndex::Build(**registry);
    if (index.ok()) {
      built = std::move(index.value());
    } else {
      Log(LogLevel::kWarning, "lineage index not rebuilt: " + index.status().message());
    }
  } else {
    Log(LogLevel::kWarning, "lineage index not rebuilt: " + registry.status().message());
  }
  std::lock_guard lock(mutex_);
  if (built != nullptr) {
    index_ = std::move(built);
    ++builds_;
    last_build_seconds_ =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  }
  building_ = false;
}

}  // namespace hubmirror::registry
