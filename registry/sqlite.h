#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace hubmirror::registry {

// A prepared statement with positional binding (1-based) and typed column reads (0-based).
// Owned by one connection; used by one thread at a time. Finalized on destruction.
class Statement {
 public:
  Statement(sqlite3* db, std::string_view sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // False when preparing failed; status() then says why.
  bool prepared() const { return stmt_ != nullptr; }

  Statement& Bind(int index, int64_t value);
  Statement& Bind(int index, std::string_view value);
  Statement& BindNull(int index);

  // Clears bindings and rewinds, so one prepared statement serves a loop of inserts.
  void Reset();

  // Advances: true when a row is available, false when done (status() tells whether by error).
  bool Step();
  // Runs to completion; the status of the whole execution.
  Status Run();
  const Status& status() const { return status_; }

  int64_t Int(int column) const;
  std::string Text(int column) const;
  bool IsNull(int column) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  Status status_;
};

// Executes one or more statements that return no rows.
Status Exec(sqlite3* db, std::string_view sql);

}  // namespace hubmirror::registry
