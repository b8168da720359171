#include "common/status.h"

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstring>
#include <ios>
#include <system_error>

namespace hubmirror {
namespace {

TEST_CASE("ErrnoStatus maps errno values to status codes", "[status]") {
  struct Case {
    int error;
    StatusCode code;
  };
  auto c = GENERATE(values<Case>({
      {ENOENT, StatusCode::kNotFound},
      {ENOTDIR, StatusCode::kNotFound},
      {EEXIST, StatusCode::kAlreadyExists},
      {EACCES, StatusCode::kFailedPrecondition},
      {EPERM, StatusCode::kFailedPrecondition},
      {EROFS, StatusCode::kFailedPrecondition},
      {ENAMETOOLONG, StatusCode::kInvalidArgument},
      {ENOSPC, StatusCode::kIoError},
      {EDQUOT, StatusCode::kIoError},
      {EIO, StatusCode::kIoError},
      {EISDIR, StatusCode::kIoError},
      {EMFILE, StatusCode::kIoError},
      {EINVAL, StatusCode::kIoError},
  }));
  INFO("errno " << c.error);
  Status status = ErrnoStatus("cannot open /data/x", c.error);
  CHECK_FALSE(status.ok());
  CHECK(status.code() == c.code);
  // One line: the thing, then the system's own words for the error.
  CHECK(status.message() == std::string("cannot open /data/x: ") + std::strerror(c.error));
  CHECK(status.message().find('\n') == std::string::npos);
}

TEST_CASE("ErrnoStatus takes std::filesystem's error codes alike", "[status]") {
  std::error_code missing(ENOENT, std::system_category());
  Status status = ErrnoStatus("cannot read /data/x", missing);
  CHECK(status.code() == StatusCode::kNotFound);
  CHECK(status.message() == "cannot read /data/x: " + missing.message());
  CHECK(ErrnoStatus("cannot write", std::make_error_code(std::errc::no_space_on_device)).code() ==
        StatusCode::kIoError);
  CHECK(ErrnoStatus("cannot write", std::make_error_code(std::errc::permission_denied)).code() ==
        StatusCode::kFailedPrecondition);
  // Another category's values are not errno values.
  CHECK(ErrnoStatus("cannot parse", std::make_error_code(std::io_errc::stream)).code() ==
        StatusCode::kIoError);
}

}  // namespace
}  // namespace hubmirror
