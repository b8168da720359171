#include "common/status.h"

#include <cerrno>
#include <system_error>

namespace hubmirror {

Status ErrnoStatus(const std::string& what, int error) {
  StatusCode code = StatusCode::kIoError;
  switch (error) {
    case ENOENT:
    case ENOTDIR:
      code = StatusCode::kNotFound;
      break;
    case EEXIST:
      code = StatusCode::kAlreadyExists;
      break;
    case EACCES:
    case EPERM:
    case EROFS:
      code = StatusCode::kFailedPrecondition;
      break;
    case ENAMETOOLONG:
      code = StatusCode::kInvalidArgument;
      break;
    default:
      break;
  }
  // generic_category() formats with strerror_r: strerror itself is not thread-safe.
  return Status(code, what + ": " + std::generic_category().message(error));
}

Status ErrnoStatus(const std::string& what, const std::error_code& error) {
  if (error.category() == std::system_category() || error.category() == std::generic_category()) {
    return ErrnoStatus(what, error.value());
  }
  return IoError(what + ": " + error.message());
}

}  // namespace hubmirror
