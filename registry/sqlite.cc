#include "registry/sqlite.h"

#include "common/log.h"

namespace hubmirror::registry {

StatementCache::~StatementCache() {
  for (auto& [sql, stmt] : idle_) sqlite3_finalize(stmt);
}

sqlite3_stmt* StatementCache::Take(std::string_view sql) {
  auto it = idle_.find(std::string(sql));
  if (it == idle_.end()) return nullptr;
  sqlite3_stmt* stmt = it->second;
  idle_.erase(it);
  return stmt;
}

void StatementCache::Give(std::string_view sql, sqlite3_stmt* stmt) {
  idle_.emplace(std::string(sql), stmt);
}

Statement::Statement(StatementCache& cache, std::string_view sql)
    : cache_(cache), sql_(sql), stmt_(cache.Take(sql)) {
  if (stmt_ != nullptr) return;
  if (sqlite3_prepare_v3(cache.db(), sql.data(), static_cast<int>(sql.size()),
                         SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr) != SQLITE_OK) {
    status_ = Internal(std::string("sqlite prepare failed: ") + sqlite3_errmsg(cache.db()));
    sqlite3_finalize(stmt_);
    stmt_ = nullptr;
  }
}

Statement::~Statement() {
  if (stmt_ == nullptr) return;
  Reset();
  cache_.Give(sql_, stmt_);
}

Statement& Statement::Bind(int index, int64_t value) {
  if (stmt_ != nullptr) sqlite3_bind_int64(stmt_, index, value);
  return *this;
}

Statement& Statement::Bind(int index, std::string_view value) {
  if (stmt_ != nullptr) {
    sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
  }
  return *this;
}

Statement& Statement::BindNull(int index) {
  if (stmt_ != nullptr) sqlite3_bind_null(stmt_, index);
  return *this;
}

Statement& Statement::BindNullIfEmpty(int index, std::string_view value) {
  return value.empty() ? BindNull(index) : Bind(index, value);
}

void Statement::Reset() {
  if (stmt_ == nullptr) return;
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  status_ = Status::Ok();
}

bool Statement::Step() {
  if (stmt_ == nullptr) return false;
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc != SQLITE_DONE) {
    status_ = Internal(std::string("sqlite step failed: ") + sqlite3_errmsg(cache_.db()));
  }
  return false;
}

Status Statement::Run() {
  while (Step()) {
  }
  return status_;
}

int64_t Statement::Int(int column) const { return sqlite3_column_int64(stmt_, column); }

std::string Statement::Text(int column) const {
  auto text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
  return text == nullptr
             ? std::string()
             : std::string(text, static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
}

bool Statement::IsNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

Status Exec(sqlite3* db, std::string_view sql) {
  char* error = nullptr;
  if (sqlite3_exec(db, std::string(sql).c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = error != nullptr ? error : sqlite3_errmsg(db);
    sqlite3_free(error);
    return Internal("sqlite: " + message);
  }
  return Status::Ok();
}

WriteTransaction::~WriteTransaction() {
  if (Status rolled_back = Rollback(); !rolled_back.ok()) {
    Log(LogLevel::kError, "registry transaction not rolled back: " + rolled_back.message());
  }
}

Status WriteTransaction::Begin() {
  HM_RETURN_IF_ERROR(Exec(db_, "BEGIN IMMEDIATE"));
  open_ = true;
  return Status::Ok();
}

Status WriteTransaction::Commit() {
  if (!open_) return Internal("commit of a registry transaction not begun");
  HM_RETURN_IF_ERROR(Exec(db_, "COMMIT"));
  open_ = false;
  return Status::Ok();
}

Status WriteTransaction::Rollback() {
  if (!open_) return Status::Ok();
  open_ = false;
  // Some failures (a full disk, an I/O error) make SQLite roll back by itself.
  if (sqlite3_get_autocommit(db_) != 0) return Status::Ok();
  return Exec(db_, "ROLLBACK");
}

}  // namespace hubmirror::registry
