#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "registry/registry.h"

namespace hubmirror::sync {

// Sets each entry's last_commit_id the way git history would: an entry identical (same path,
// type and git oid) to one in `parent_id`'s tree keeps the commit that last changed it there;
// every other entry was last changed by `commit_id`. An empty `parent_id` means a root commit.
Status AssignLastCommits(registry::Registry& registry, const registry::Repo* repo,
                         const std::string& parent_id, const std::string& commit_id,
                         std::vector<registry::Entry>* entries);

}  // namespace hubmirror::sync
