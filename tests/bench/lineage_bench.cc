// Lineage query benchmark on a synthetic graph shaped like the Hub's: a few huge families (the
// largest with 100,000 descendants), long fine-tune chains, merges with two parents, and a long
// tail of small families, 1,000,000 models in all. Prints ancestor latency (p50, p99) and the time
// to list every descendant of the largest family. Usage: lineage_bench DB_PATH [MODELS]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "registry/lineage_index.h"
#include "registry/registry.h"

namespace {

using hubmirror::registry::LineageDirection;
using hubmirror::registry::LineageEdge;
using hubmirror::registry::LineageGraph;
using hubmirror::registry::LineageIndex;
using hubmirror::registry::Registry;
using Clock = std::chrono::steady_clock;

constexpr int kLargestFamily = 100000;
constexpr int kChains = 20;
constexpr int kChainLength = 60;

std::string Id(int n) { return "org" + std::to_string(n % 5000) + "/model-" + std::to_string(n); }

const char* RandomRelation(std::mt19937& random) {
  int roll = static_cast<int>(random() % 100);
  return roll < 60 ? "finetune" : roll < 85 ? "quantized" : roll < 95 ? "adapter" : "merge";
}

double Micros(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress lines appear as they are printed
  if (argc < 2) {
    std::fprintf(stderr, "usage: lineage_bench DB_PATH [MODELS]\n");
    return 2;
  }
  int models = argc > 2 ? std::atoi(argv[2]) : 1000000;
  auto registry = Registry::Open(argv[1], Registry::Mode::kReadWrite);
  if (!registry.ok()) {
    std::fprintf(stderr, "%s\n", registry.status().message().c_str());
    return 1;
  }
  std::mt19937 random(42);
  std::vector<LineageEdge> edges;
  std::vector<int> members;  // of the family being grown
  int next = 0;
  auto grow_family = [&](int size) {
    int root = next++;
    members.assign(1, root);
    for (int i = 1; i < size && next < models; ++i) {
      int child = next++;
      // As on the Hub, most variants hang off the foundation model or one of its first
      // derivatives; the rest off any member (depth stays logarithmic).
      int parent = random() % 10 < 7 ? members[random() % std::min<size_t>(members.size(), 16)]
                                     : members[random() % members.size()];
      const char* relation = RandomRelation(random);
      edges.push_back({Id(child), Id(parent), relation, "card", false});
      if (std::string(relation) == "merge") {
        edges.push_back(
            {Id(child), Id(members[random() % members.size()]), relation, "card", false});
      }
      members.push_back(child);
    }
    return root;
  };
  auto started = Clock::now();
  int largest_root = grow_family(kLargestFamily + 1);
  for (int chain = 0; chain < kChains; ++chain) {
    int previous = next++;
    for (int i = 0; i < kChainLength; ++i) {
      int child = next++;
      edges.push_back({Id(child), Id(previous), "finetune", "card", false});
      previous = child;
    }
  }
  // The long tail: families whose sizes fall off like a power law.
  while (next < models) {
    double u = std::uniform_real_distribution<double>(0.0, 1.0)(random);
    grow_family(std::max(1, static_cast<int>(std::pow(1.0 - u, -1.5))));
  }
  for (size_t start = 0; start < edges.size(); start += 200000) {
    std::vector<LineageEdge> batch(edges.begin() + start,
                                   edges.begin() + std::min(edges.size(), start + 200000));
    if (auto added = (*registry)->AddLineageEdges(batch); !added.ok()) {
      std::fprintf(stderr, "%s\n", added.message().c_str());
      return 1;
    }
  }
  std::printf("graph: %d models, %zu edges, built in %.1f s\n", next, edges.size(),
              std::chrono::duration<double>(Clock::now() - started).count());

  // The server walks lineage in an in-memory index of the graph, rebuilt when it changes; the
  // CLI and a server whose index is being rebuilt walk in SQL. Both are measured.
  started = Clock::now();
  auto index = LineageIndex::Build(**registry);
  if (!index.ok()) {
    std::fprintf(stderr, "%s\n", index.status().message().c_str());
    return 1;
  }
  std::printf("in-memory index of %zu models built in %.2f s\n", (*index)->model_count(),
              std::chrono::duration<double>(Clock::now() - started).count());

  using Walk = std::function<LineageGraph(const std::string&, LineageDirection)>;
  Walk in_memory = [&](const std::string& model, LineageDirection direction) {
    return (*index)->Lineage(model, direction, 0, "");
  };
  Walk in_sql = [&](const std::string& model, LineageDirection direction) {
    auto graph = (*registry)->Lineage(model, direction, 0, "");
    if (!graph.ok()) {
      std::fprintf(stderr, "%s\n", graph.status().message().c_str());
      std::exit(1);
    }
    return std::move(graph.value());
  };
  for (const auto& [name, walk] : {std::pair<const char*, Walk>{"in-memory index", in_memory},
                                   std::pair<const char*, Walk>{"SQL", in_sql}}) {
    // Ancestors of random models (every model has a path to its root).
    std::vector<double> latencies;
    for (int i = 0; i < 20000; ++i) {
      std::string model = Id(static_cast<int>(random() % next));
      auto begin = Clock::now();
      walk(model, LineageDirection::kUp);
      latencies.push_back(Micros(Clock::now() - begin));
    }
    std::sort(latencies.begin(), latencies.end());
    std::printf(
        "%s: ancestors of a model (20000 random models): p50 %.3f ms, p99 %.3f ms (target p99 "
        "<= 1 ms)\n",
        name, latencies[latencies.size() / 2] / 1000,
        latencies[latencies.size() * 99 / 100] / 1000);

    std::vector<double> family_times;
    size_t descendants = 0;
    for (int round = 0; round < 5; ++round) {
      auto begin = Clock::now();
      LineageGraph graph = walk(Id(largest_root), LineageDirection::kDown);
      family_times.push_back(Micros(Clock::now() - begin) / 1000);
      descendants = graph.nodes.size() - 1;
    }
    std::sort(family_times.begin(), family_times.end());
    std::printf(
        "%s: descendants of the largest family (%zu models): median %.1f ms (target <= 100 ms)\n",
        name, descendants, family_times[family_times.size() / 2]);
  }

  // Both walks must give the same answer.
  LineageGraph from_index = in_memory(Id(largest_root), LineageDirection::kBoth);
  LineageGraph from_sql = in_sql(Id(largest_root), LineageDirection::kBoth);
  bool same = from_index.nodes.size() == from_sql.nodes.size() &&
              from_index.edges.size() == from_sql.edges.size() &&
              from_index.roots == from_sql.roots;
  for (size_t i = 0; same && i < from_index.nodes.size(); ++i) {
    same = from_index.nodes[i].id == from_sql.nodes[i].id &&
           from_index.nodes[i].mirrored == from_sql.nodes[i].mirrored;
  }
  for (size_t i = 0; same && i < from_index.edges.size(); ++i) {
    const LineageEdge& a = from_index.edges[i];
    const LineageEdge& b = from_sql.edges[i];
    same = a.child == b.child && a.parent == b.parent && a.relation == b.relation;
  }
  if (!same) {
    std::fprintf(stderr, "the in-memory index and SQL disagree on the largest family\n");
    return 1;
  }
  return 0;
}
