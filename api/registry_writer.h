#pragma once

#include <memory>
#include <mutex>
#include <utility>

#include "registry/registry.h"

namespace hubmirror::api {

// The server's one read-write registry connection, for the few writes that requests make
// (access requests and decisions, settings, the audit log); reads go through each thread's
// read-only connection. Thread-safe: calls are serialised by a mutex, and SQLite serialises them
// with other processes (the CLI, sync) writing the same database.
class RegistryWriter {
 public:
  explicit RegistryWriter(std::unique_ptr<registry::Registry> registry)
      : registry_(std::move(registry)) {}

  // Runs `write` with the connection, holding the lock.
  template <typename Write>
  auto With(Write&& write) {
    std::lock_guard lock(mutex_);
    return write(*registry_);
  }

 private:
  std::mutex mutex_;
  std::unique_ptr<registry::Registry> registry_;
};

}  // namespace hubmirror::api
