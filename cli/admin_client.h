#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/status.h"

namespace hubmirror::cli {

// A client of a running server's admin API (/api/admin/...), for the commands that act on a
// daemon rather than on a data directory (`hubmirror jobs`). Sends the admin's token as a Bearer
// token and never prints it. Not thread-safe: one per command.
class AdminClient {
 public:
  // `server`: the server's base URL (http or https); `token`: an admin's token ("" for none).
  // kInvalidArgument for a URL that is not http(s).
  static Result<AdminClient> Create(std::string server, std::string token);

  // Sends `method` to `path` (e.g. "/api/admin/jobs") with `body` as JSON when given, and returns
  // the JSON answer. Errors name the server and carry its message: kInvalidArgument for a 400,
  // kFailedPrecondition for 401, 403 and 409 (the caller must act), kNotFound for 404, kIoError
  // for anything else and for a server that cannot be reached.
  Result<nlohmann::json> Call(const std::string& method, const std::string& path,
                              const std::optional<nlohmann::json>& body = std::nullopt) const;

  const std::string& server() const { return server_; }

 private:
  AdminClient(std::string server, std::string token)
      : server_(std::move(server)), token_(std::move(token)) {}

  std::string server_;
  std::string token_;
};

}  // namespace hubmirror::cli
