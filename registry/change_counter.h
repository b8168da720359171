#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>

#include "common/status.h"

namespace hubmirror::registry {

// How many commits any process has made to one registry database, kept in a small file beside
// it (`<database>-changes`) that every connection maps shared. Writers bump it after each commit
// (from SQLite's WAL hook, whatever the statement), so a reader loads it, without a system call,
// to know whether what it read before may have changed since. Thread-safe and process-safe: the
// value is only read and changed with atomic operations on the shared mapping.
class ChangeCounter {
 public:
  // Maps the counter of the database at `db_path`, creating its file when absent. kIoError when
  // it can be neither opened nor created.
  static Result<std::unique_ptr<ChangeCounter>> Open(const std::filesystem::path& db_path);
  ~ChangeCounter();
  ChangeCounter(const ChangeCounter&) = delete;
  ChangeCounter& operator=(const ChangeCounter&) = delete;

  uint64_t Load() const;
  void Bump();

 private:
  explicit ChangeCounter(void* mapping) : mapping_(mapping) {}
  void* mapping_;  // one page; the count is its first 8 bytes
};

}  // namespace hubmirror::registry
