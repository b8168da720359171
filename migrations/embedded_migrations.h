#pragma once

#include <span>

namespace hubmirror::migrations {

// One schema migration as shipped: applied once, in version order, never edited afterwards.
struct Migration {
  int version;
  const char* name;
  const char* sql;
};

// All migrations compiled into this binary, sorted by version (1, 2, ...).
std::span<const Migration> EmbeddedMigrations();

}  // namespace hubmirror::migrations
