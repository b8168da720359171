#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "registry/registry.h"
#include "sync/git_objects.h"
#include "sync/model_card.h"

namespace hubmirror::sync {

// Sets each entry's last_commit_id the way git history would: an entry identical (same path,
// type and git oid) to one in `parent_id`'s tree keeps the commit that last changed it there;
// every other entry was last changed by `commit_id`. An empty `parent_id` means a root commit.
Status AssignLastCommits(registry::Registry& registry, const registry::Repo* repo,
                         const std::string& parent_id, const std::string& commit_id,
                         std::vector<registry::Entry>* entries);

// Appends the directory entries of `trees` (every folder but the root, with its tree id).
void AppendDirectoryEntries(const GitTrees& trees, std::vector<registry::Entry>* entries);

// Gives a new revision what its model card says: the card data (front matter, as JSON text), the
// tags, pipeline and library it implies, and its lineage edges.
void ApplyCard(const nlohmann::json& card_data, const CardInfo& card,
               registry::NewRevision* revision);

}  // namespace hubmirror::sync
