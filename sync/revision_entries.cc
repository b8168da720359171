#include "sync/revision_entries.h"

#include <map>

namespace hubmirror::sync {

Status AssignLastCommits(registry::Registry& registry, const registry::Repo* repo,
                         const std::string& parent_id, const std::string& commit_id,
                         std::vector<registry::Entry>* entries) {
  std::map<std::string, registry::Entry> previous;
  if (repo != nullptr && !parent_id.empty()) {
    auto listed = registry.ListEntries(*repo, parent_id, "");
    if (!listed.ok()) return listed.status();
    for (auto& e : listed.value()) previous.emplace(e.path, std::move(e));
  }
  for (auto& entry : *entries) {
    auto it = previous.find(entry.path);
    bool unchanged = it != previous.end() && it->second.git_oid == entry.git_oid &&
                     it->second.is_directory == entry.is_directory;
    entry.last_commit_id = unchanged ? it->second.last_commit_id : commit_id;
  }
  return Status::Ok();
}

}  // namespace hubmirror::sync
