#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/status.h"
#include "registry/registry.h"

namespace hubmirror::registry {

// An in-memory copy of the lineage graph, for walks over families of 100,000 models that SQL
// answers too slowly: models interned as integers in lower-case id order, edges in adjacency
// arrays both ways, and every model's details. Answers exactly as Registry::Lineage does from
// SQL. Immutable once built, so one copy serves every thread.
class LineageIndex {
 public:
  // Reads the whole graph, and the generation it reflects, in one read transaction.
  static Result<std::shared_ptr<const LineageIndex>> Build(Registry& registry);

  int64_t generation() const { return generation_; }
  size_t model_count() const { return models_.size(); }
  size_t edge_count() const { return edges_.size(); }
  LineageGraph Lineage(std::string_view model, LineageDirection direction, int max_depth,
                       std::string_view relation) const;

 private:
  struct Model {
    std::string lower;
    std::string name;  // as described (repos, lineage_models); empty when not described
    bool mirrored = false;
    uint32_t pipeline_tag = 0;  // into labels_
    uint32_t library_name = 0;
    int64_t downloads = 0;
    // Into spellings_: how every edge that names this model spells it, or kVariedSpelling when
    // they differ (case variants).
    uint32_t spelling = 0;
  };
  static constexpr uint32_t kVariedSpelling = UINT32_MAX;
  struct Edge {
    uint32_t child;
    uint32_t parent;
    uint32_t child_spelling;  // into spellings_: the id as the card wrote it
    uint32_t parent_spelling;
    uint32_t relation;  // into labels_
    uint32_t source;
    bool inferred;
  };

  // Appends to `taken` the edges (indices into edges_) of every model a walk from `start` in one
  // direction expands: all it reaches, or those less than `max_depth` steps away.
  void Walk(uint32_t start, bool up, int max_depth, std::optional<uint32_t> relation,
            std::vector<uint32_t>* taken) const;
  std::optional<uint32_t> FindModel(std::string_view lower) const;
  std::optional<uint32_t> FindLabel(std::string_view label) const;

  int64_t generation_ = 0;
  bool any_varied_spelling_ = false;
  std::vector<Model> models_;           // sorted by lower-case id
  std::vector<Edge> edges_;             // sorted by child, then parent
  std::vector<std::string> spellings_;  // ids as written, each once
  std::vector<std::string> labels_;     // relations, sources, tasks, libraries: a few, each once
  // Compressed adjacency. As a child, model m has edges_[up_offsets_[m] .. up_offsets_[m + 1]);
  // as a parent, the edges indexed by down_edges_[down_offsets_[m] .. down_offsets_[m + 1]).
  std::vector<uint32_t> up_offsets_, down_offsets_;
  std::vector<uint32_t> down_edges_;
  std::vector<uint32_t> down_children_;  // the child of down_edges_[k], so walks stay sequential
};

// Keeps the newest LineageIndex of one database, rebuilt in a background thread when the graph
// changes, so that no request waits for a rebuild: until it is ready, lineage is walked in SQL.
// Thread-safe.
class LineageIndexCache {
 public:
  explicit LineageIndexCache(std::filesystem::path db_path) : db_path_(std::move(db_path)) {}
  ~LineageIndexCache();
  LineageIndexCache(const LineageIndexCache&) = delete;
  LineageIndexCache& operator=(const LineageIndexCache&) = delete;

  // The index when it reflects `generation`; otherwise nullptr, and a rebuild starts unless one
  // is running.
  std::shared_ptr<const LineageIndex> Current(int64_t generation);

  // The index's size and builds, for metrics.
  struct Stats {
    size_t models = 0;  // of the current index (0 before the first build)
    size_t edges = 0;
    uint64_t builds = 0;
    double last_build_seconds = 0;
  };
  Stats stats() const;

 private:
  void Rebuild();

  const std::filesystem::path db_path_;
  mutable std::mutex mutex_;
  std::shared_ptr<const LineageIndex> index_;
  uint64_t builds_ = 0;
  double last_build_seconds_ = 0;
  bool building_ = false;
  std::thread builder_;
};

// The foundation models of a graph walked up without a depth limit: its models that are no
// one's child there (every descendant is one). Shared by the SQL walk and the index.
void FillLineageRoots(LineageGraph& graph, LineageDirection direction, int max_depth);

}  // namespace hubmirror::registry
