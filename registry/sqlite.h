#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/status.h"

namespace hubmirror::registry {

// Prepared statements of one connection kept for reuse: preparing costs more than running the
// small queries that serve most requests. Same thread-safety as its connection (one thread).
class StatementCache {
 public:
  explicit StatementCache(sqlite3* db) : db_(db) {}
  ~StatementCache();
  StatementCache(const StatementCache&) = delete;
  StatementCache& operator=(const StatementCache&) = delete;

  sqlite3* db() const { return db_; }
  // An idle prepared statement for `sql`, or nullptr when none is cached.
  sqlite3_stmt* Take(std::string_view sql);
  // Gives a statement back after use (it must already be reset).
  void Give(std::string_view sql, sqlite3_stmt* stmt);

 private:
  sqlite3* db_;
  std::unordered_multimap<std::string, sqlite3_stmt*> idle_;
};

// A prepared statement with positional binding (1-based) and typed column reads (0-based),
// borrowed from a StatementCache (or prepared on the spot) and handed back reset on destruction,
// so no read snapshot outlives the statement's scope. One thread at a time.
class Statement {
 public:
  Statement(StatementCache& cache, std::string_view sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // False when preparing failed; status() then says why.
  bool prepared() const { return stmt_ != nullptr; }

  Statement& Bind(int index, int64_t value);
  Statement& Bind(int index, std::string_view value);
  Statement& BindNull(int index);
  // Binds NULL for an empty `value`: for columns where NULL means "none".
  Statement& BindNullIfEmpty(int index, std::string_view value);

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
  StatementCache& cache_;
  std::string sql_;
  sqlite3_stmt* stmt_ = nullptr;
  Status status_;
};

// Executes one or more statements that return no rows.
Status Exec(sqlite3* db, std::string_view sql);

// One write transaction on a connection. Begin() takes the write lock at once (BEGIN IMMEDIATE)
// so that a transaction which read first never fails to upgrade its lock half-way; it is rolled
// back on destruction unless Commit() succeeded. Same thread-safety as its connection.
class WriteTransaction {
 public:
  explicit WriteTransaction(sqlite3* db) : db_(db) {}
  // Rolls back a transaction still open; a failure to do so is logged (nothing can return it).
  ~WriteTransaction();
  WriteTransaction(const WriteTransaction&) = delete;
  WriteTransaction& operator=(const WriteTransaction&) = delete;

  // kInternal when the lock cannot be had within the busy timeout, when the connection is
  // read-only, or when a transaction is already open on it.
  Status Begin();
  // kInternal when the commit fails; the transaction then stays open until rolled back.
  Status Commit();
  // Undoes everything since Begin(); does nothing when no transaction is open.
  Status Rollback();

 private:
  sqlite3* db_;
  bool open_ = false;
};

}  // namespace hubmirror::registry
