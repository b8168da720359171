#include "sync/revision_entries.h"

#include <map>

#include "common/json_text.h"

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

void AppendDirectoryEntries(const GitTrees& trees, std::vector<registry::Entry>* entries) {
  for (const auto& [path, id] : trees.directory_ids) {
    registry::Entry directory;
    directory.path = path;
    directory.is_directory = true;
    directory.git_oid = id;
    entries->push_back(std::move(directory));
  }
}

void ApplyCard(const nlohmann::json& card_data, const CardInfo& card,
               registry::NewRevision* revision) {
  registry::Commit& commit = revision->commit;
  // Card text is untrusted: invalid UTF-8 is replaced rather than failing the revision.
  commit.card_data_json = card_data.is_object() ? CompactJson(card_data) : "";
  commit.tags = card.tags;
  commit.pipeline_tag = card.pipeline_tag;
  commit.library_name = card.library_name;
  revision->lineage = card.lineage;
}

}  // namespace hubmirror::sync
