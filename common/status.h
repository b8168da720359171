#pragma once

#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <variant>

namespace hubmirror {

// The error categories shared by every module. The api layer maps them to HTTP statuses in one
// table; the cli maps them to exit codes.
enum class StatusCode {
  kOk,
  kInvalidArgument,  // bad input from a user or an upstream
  kNotFound,         // generic absence; callers usually know a more precise kind
  kRepoNotFound,
  kRevisionNotFound,
  kEntryNotFound,
  kAlreadyExists,
  kCorrupt,             // bytes or metadata do not match their declared digest or size
  kFailedPrecondition,  // e.g. a database written by a newer binary
  kIoError,
  kInternal,
};

// Status is the result of an operation that returns no value: kOk or a code with a one-line
// message naming the thing involved. Immutable value type, safe to copy across threads.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string m) {
  return {StatusCode::kInvalidArgument, std::move(m)};
}
inline Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status Corrupt(std::string m) { return {StatusCode::kCorrupt, std::move(m)}; }
inline Status IoError(std::string m) { return {StatusCode::kIoError, std::move(m)}; }
inline Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

// The Status of a system call that failed with `error` (an errno value): `what` names the
// operation and the thing ("cannot open /data/tmp/x"), the system's description follows. ENOENT
// and ENOTDIR give kNotFound, EEXIST kAlreadyExists, EACCES, EPERM and EROFS kFailedPrecondition
// (the operator must act), ENAMETOOLONG kInvalidArgument, anything else (ENOSPC, EIO, ...)
// kIoError.
Status ErrnoStatus(const std::string& what, int error);
// The same for an error of the system or generic category (what std::filesystem reports).
Status ErrnoStatus(const std::string& what, const std::error_code& error);

// Result<T> holds either a value or a non-ok Status. Value type; not synchronised.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design, like absl::StatusOr
  Result(Status status) : status_(std::move(status)) {}  // NOLINT

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() { return *value_; }
  const T& operator*() const { return *value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace hubmirror

// Returns early from the enclosing function when a Status-returning expression fails.
#define HM_RETURN_IF_ERROR(expr)             \
  do {                                       \
    ::hubmirror::Status hm_status_ = (expr); \
    if (!hm_status_.ok()) return hm_status_; \
  } while (0)
