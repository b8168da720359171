#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <utility>

#include "common/status.h"
#include "registry/change_counter.h"

namespace hubmirror::registry {

// Answers of a read-only connection, remembered for as long as no process commits to the
// database (the ChangeCounter says so) and at most a second: repeated requests do not query
// SQLite again, yet a commit is seen by the next one. The age limit bounds how long a writer
// killed between its commit and its bump can leave an answer stale. Keys compare with `KeyEqual`.
// Same thread-safety as its connection (one thread).
template <typename Value, typename KeyEqual = std::equal_to<std::string>>
class AnswerCache {
 public:
  static constexpr std::chrono::seconds kMaxAge{1};

  explicit AnswerCache(size_t max_entries) : max_entries_(max_entries) {}

  // Until enabled, every Get computes its answer.
  void Enable(const ChangeCounter* changes) { changes_ = changes; }

  // The answer for `key`: remembered, or `compute()` (a Result<Value>), remembered when ok.
  template <typename Compute>
  Result<Value> Get(const std::string& key, Compute&& compute) {
    if (changes_ == nullptr) return compute();
    // The count is read before the query: a commit after it makes the answer stale, and also
    // moves the count, which empties the cache.
    uint64_t count = changes_->Load();
    auto now = std::chrono::steady_clock::now();
    if (count != count_ || entries_.size() >= max_entries_) {
      entries_.clear();
      count_ = count;
    }
    if (auto hit = entries_.find(key);
        hit != entries_.end() && now - hit->second.read_at < kMaxAge) {
      return hit->second.value;
    }
    Result<Value> answer = compute();
    if (answer.ok()) entries_.insert_or_assign(key, Entry{*answer, now});
    return answer;
  }

 private:
  struct Entry {
    Value value;
    std::chrono::steady_clock::time_point read_at;
  };
  size_t max_entries_;
  const ChangeCounter* changes_ = nullptr;
  uint64_t count_ = 0;
  std::unordered_map<std::string, Entry, std::hash<std::string>, KeyEqual> entries_;
};

// Compares secrets (and their hashes) in constant time, so that how long a lookup takes tells
// nothing about how much of a guess was right.
struct SecretEqual {
  bool operator()(const std::string& a, const std::string& b) const;
};

}  // namespace hubmirror::registry
