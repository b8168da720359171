#include "sync/mirror_job.h"

#include <fnmatch.h>

#include <algorithm>
#include <map>
#include <set>

#include "common/clock.h"
#include "common/digest.h"
#include "common/json_text.h"
#include "common/log.h"
#include "sync/git_objects.h"
#include "sync/mirror_downloads.h"
#include "sync/model_card.h"
#include "sync/revision_entries.h"

namespace hubmirror::sync {
namespace {

bool MatchesAny(const std::vector<std::string>& globs, const std::string& path) {
  for (const auto& glob : globs) {
    if (::fnmatch(glob.c_str(), path.c_str(), 0) == 0) return true;
  }
  return false;
}

bool Selected(const MirrorSpec& spec, const std::string& path) {
  return (spec.include.empty() || MatchesAny(spec.include, path)) &&
         !MatchesAny(spec.exclude, path);
}

std::string Describe(const MirrorSpec& spec, const std::string& at) {
  return std::string(RepoTypeName(spec.type)) + " " + spec.repo + "@" + at;
}

// The files of an upstream tree that the spec selects, and the directories above them.
struct SelectedTree {
  std::vector<RemoteEntry> files;
  std::set<std::string> directories;
};

SelectedTree SelectFiles(const MirrorSpec& spec, const std::vector<RemoteEntry>& tree) {
  SelectedTree selected;
  for (const auto& entry : tree) {
    if (entry.is_directory || !Selected(spec, entry.path)) continue;
    selected.files.push_back(entry);
    for (size_t slash = entry.path.find('/'); slash != std::string::npos;
         slash = entry.path.find('/', slash + 1)) {
      selected.directories.insert(entry.path.substr(0, slash));
    }
  }
  return selected;
}

// Content of the repo found corrupt or missing (by verify, or gone from the store since), which
// is fetched again even for a revision that is otherwise up to date.
Result<std::set<std::string>> DamagedContent(registry::Registry& registry,
                                             const registry::Repo& repo) {
  auto blobs = registry.ListBlobs(repo.type, repo.name);
  if (!blobs.ok()) return blobs.status();
  std::set<std::string> damaged;
  for (const auto& blob : *blobs) {
    if (blob.state != registry::BlobState::kOk) damaged.insert(blob.sha256);
  }
  return damaged;
}

// Adds to `damaged` the digests among `sha256s` that the store lacks, in one question.
Status AddMissing(storage::BlobStore& store, const std::vector<std::string>& sha256s,
                  std::set<std::string>* damaged) {
  auto stored = store.ContainsEach(sha256s);
  if (!stored.ok()) return stored.status();
  for (size_t i = 0; i < sha256s.size(); ++i) {
    if (!(*stored)[i]) damaged->insert(sha256s[i]);
  }
  return Status::Ok();
}

// Which files the store lacks, found with one registry query per kind of file and one store
// question for the whole tree. Fills `sha256s` with the content digest of every file known
// (LFS files declare theirs; other files are known by git id, which the registry maps), and
// `revision->blobs` with rows for content stored without one (a crash between the two).
// Returns the indexes of the files to download, each distinct content once; `same_content_as`
// maps the other files of that content to the index that fetches it, and `reused` lists the
// stored content the revision counts on instead.
Result<std::vector<size_t>> PlanDownloads(registry::Registry& registry, storage::BlobStore& store,
                                          const std::vector<RemoteEntry>& files,
                                          const std::set<std::string>& damaged,
                                          std::vector<std::string>* sha256s,
                                          std::vector<size_t>* same_content_as,
                                          std::vector<std::string>* reused,
                                          registry::NewRevision* revision) {
  std::vector<std::string> lfs_digests;
  std::vector<std::pair<std::string, uint64_t>> git_ids;
  for (const auto& file : files) {
    if (file.lfs) {
      lfs_digests.push_back(file.sha256);
    } else {
      git_ids.emplace_back(file.git_oid, file.size);
    }
  }
  auto rows = registry.FindBlobs(lfs_digests);
  if (!rows.ok()) return rows.status();
  auto by_git_id = registry.FindBlobsByGitSha1(git_ids);
  if (!by_git_id.ok()) return by_git_id.status();
  sha256s->assign(files.size(), "");
  std::vector<std::string> candidates;
  for (size_t i = 0; i < files.size(); ++i) {
    const RemoteEntry& file = files[i];
    if (file.lfs) {
      (*sha256s)[i] = file.sha256;
    } else if (auto known = by_git_id->find({file.git_oid, file.size}); known != by_git_id->end()) {
      (*sha256s)[i] = known->second;
    }
    if (!(*sha256s)[i].empty()) candidates.push_back((*sha256s)[i]);
  }
  auto stored = store.ContainsEach(candidates);
  if (!stored.ok()) return stored.status();
  std::set<std::string> in_store;
  for (size_t i = 0; i < candidates.size(); ++i) {
    if ((*stored)[i]) in_store.insert(candidates[i]);
  }

  std::map<std::string, size_t> first_with_content;  // content key -> index of its first file
  std::vector<size_t> to_fetch;
  same_content_as->assign(files.size(), SIZE_MAX);
  std::set<std::string> rows_added;
  for (size_t i = 0; i < files.size(); ++i) {
    const RemoteEntry& file = files[i];
    const std::string& sha256 = (*sha256s)[i];
    bool stored_here = !sha256.empty() && in_store.contains(sha256);
    // A blob in the store was verified before it got there, even if a crash kept its row from
    // being written: it only needs the row.
    if (stored_here && file.lfs && !rows->contains(sha256) && rows_added.insert(sha256).second) {
      revision->blobs.push_back({sha256, file.size, ""});
    }
    if (stored_here && !damaged.contains(sha256)) {
      // Content stored for other files is counted on, not written again: marked used, so that a
      // garbage collection running meanwhile keeps it.
      HM_RETURN_IF_ERROR(store.Touch(sha256));
      reused->push_back(sha256);
      continue;
    }
    std::string key = (file.lfs ? "sha256:" + file.sha256 : "git:" + file.git_oid) + ":" +
                      std::to_string(file.size);
    auto [first, inserted] = first_with_content.emplace(key, i);
    if (inserted) {
      to_fetch.push_back(i);
    } else {
      (*same_content_as)[i] = first->second;
    }
  }
  return to_fetch;
}

// JSON text of an upstream object, "" for none; invalid UTF-8 is replaced, never thrown on.
std::string JsonText(const nlohmann::json& value) {
  return value.is_object() ? CompactJson(value) : "";
}

// What the upstream computes for a commit: its card, tags, pipeline, library, config and
// safetensors counts.
void DescribeCommit(const RemoteRevision& remote, registry::Commit* commit) {
  commit->id = remote.commit_id;
  commit->card_data_json = JsonText(remote.card_data);
  commit->tags = remote.tags;
  commit->pipeline_tag = remote.pipeline_tag;
  commit->library_name = remote.library_name;
  commit->config_json = JsonText(remote.config);
  commit->safetensors_json = JsonText(remote.safetensors);
}

// The repo's flags and details as the upstream states them, to refresh on every sync.
registry::RepoDetails DetailsOf(const RemoteRevision& remote) {
  registry::RepoDetails details;
  details.object_id = remote.object_id;
  details.author = remote.author;
  details.gated = remote.gated;
  details.is_private = remote.is_private;
  details.disabled = remote.disabled;
  details.created_at_ms = remote.created_at_ms;
  details.last_modified_ms = remote.last_modified_ms;
  details.downloads = remote.downloads;
  details.likes = remote.likes;
  DescribeCommit(remote, &details.commit);
  return details;
}

// The refs a job's revision may name: the one the spec or a full ref name gives, or for a plain
// name the branch, which wins, and the tag.
std::vector<RefName> RefsNamedBy(const MirrorSpec& spec) {
  if (spec.ref) return {*spec.ref};
  if (auto full = ParseFullRefName(spec.revision)) return {*full};
  return {{RefKind::kBranch, spec.revision}, {RefKind::kTag, spec.revision}};
}

// The local ref a job moves (see MirrorSpec::ref); nullopt for a pinned commit.
Result<std::optional<RefName>> TargetRef(UpstreamHub& upstream, registry::Registry& registry,
                                         const MirrorSpec& spec,
                                         const Result<registry::Repo>& local) {
  if (!spec.ref && IsSha1Hex(spec.revision)) return std::optional<RefName>();
  std::vector<RefName> candidates = RefsNamedBy(spec);
  HM_RETURN_IF_ERROR(ValidateRefName(candidates.front()));
  if (candidates.size() == 1) return std::optional<RefName>(candidates.front());
  if (local.ok()) {
    auto refs = registry.ListRefs(*local);
    if (!refs.ok()) return refs.status();
    for (const RefName& candidate : candidates) {
      for (const auto& ref : *refs) {
        if (ref.ref_name() == candidate) return std::optional<RefName>(candidate);
      }
    }
  }
  // A name mirrored for the first time: the upstream's refs listing tells a tag from a branch.
  // An upstream without that listing has branches only, as far as the mirror can tell.
  auto listed = upstream.ListRefs(spec.type, spec.repo);
  if (!listed.ok() && (listed.status().code() == StatusCode::kIoError ||
                       listed.status().code() == StatusCode::kFailedPrecondition)) {
    return listed.status();
  }
  if (listed.ok()) {
    for (const RefName& candidate : candidates) {
      for (const auto& remote : *listed) {
        if (remote.ref == candidate) return std::optional<RefName>(candidate);
      }
    }
  }
  return std::optional<RefName>(candidates.front());
}

// The commit, entries and lineage of a fully stored revision, ready to publish.
Status BuildRevision(registry::Registry& registry, const registry::Repo* local,
                     const std::string& parent_id, const MirrorSpec& spec,
                     const RemoteRevision& remote, const RemoteCommit& described,
                     const SelectedTree& tree, const std::vector<std::string>& sha256s,
                     registry::NewRevision* revision) {
  std::vector<GitTreeFile> tree_files;
  std::vector<std::string> paths;
  for (size_t i = 0; i < tree.files.size(); ++i) {
    const RemoteEntry& file = tree.files[i];
    registry::Entry entry;
    entry.path = file.path;
    entry.size = file.size;
    entry.git_oid = file.git_oid;
    entry.sha256 = sha256s[i];
    entry.lfs = file.lfs;
    entry.pointer_size = file.lfs ? LfsPointer(file.sha256, file.size).size() : 0;
    revision->entries.push_back(std::move(entry));
    tree_files.push_back({file.path, file.git_oid});
    paths.push_back(file.path);
  }
  GitTrees trees = BuildGitTrees(tree_files);
  for (const auto& directory : tree.directories) {
    registry::Entry entry;
    entry.path = directory;
    entry.is_directory = true;
    entry.git_oid = trees.directory_ids[directory];
    revision->entries.push_back(std::move(entry));
  }
  registry::Commit& commit = revision->commit;
  commit.id = remote.commit_id;
  commit.tree_id = trees.root_id;
  commit.title = described.title;
  commit.message = described.message;
  commit.author = described.author;
  commit.date_ms = described.date_ms != 0 ? described.date_ms : NowUnixMillis();
  DescribeCommit(remote, &commit);
  revision->lineage =
      UpstreamLineage(revision->repo_name, remote.card_data, remote.tags,
                      spec.type == RepoType::kModel ? remote.base_models : std::nullopt, paths);
  return AssignLastCommits(registry, local, parent_id, commit.id, &revision->entries);
}

// Everything of MirrorRepo but recording the outcome, which it leaves in `outcome`.
// `revision_gone` is set when the upstream says it has no such revision.
Result<MirrorReport> MirrorRevision(UpstreamHub& upstream, storage::BlobStore& store,
                                    registry::Registry& registry, const MirrorSpec& spec,
                                    MirrorObserver* observer, registry::SyncOutcome* outcome,
                                    bool* revision_gone) {
  if (!IsSha1Hex(spec.revision)) HM_RETURN_IF_ERROR(ValidateRevisionName(spec.revision));
  Result<RemoteRevision> remote =
      spec.resolved ? *spec.resolved : upstream.GetRevision(spec.type, spec.repo, spec.revision);
  if (!remote.ok()) {
    *revision_gone = remote.status().code() == StatusCode::kRevisionNotFound;
    return remote.status();
  }
  if (spec.refuse_gated && remote->gated != "false") {
    return Status(StatusCode::kFailedPrecondition,
                  Describe(spec, spec.revision) + " is gated on " + upstream.Name() + " (" +
                      remote->gated + "); this mirror does not pull gated repos through");
  }
  outcome->state.upstream_commit = remote->commit_id;
  outcome->repo_details = DetailsOf(*remote);
  MirrorReport report;
  report.commit_id = remote->commit_id;

  auto local = registry.FindRepo(spec.type, spec.repo);
  if (!local.ok() && local.status().code() != StatusCode::kRepoNotFound) return local.status();
  auto target = TargetRef(upstream, registry, spec, local);
  if (!target.ok()) return target.status();
  // A new repo takes the id as the upstream publishes it when the request spelt it in another
  // case (cards and users do).
  std::string repo_name = local.ok()                                        ? local->name
                          : AsciiLower(remote->id) == AsciiLower(spec.repo) ? remote->id
                                                                            : spec.repo;
  // What the upstream says of a model (its downloads above all) is kept current on every sync.
  if (spec.type == RepoType::kModel) {
    outcome->details.push_back(
        {repo_name, remote->pipeline_tag, remote->library_name, remote->downloads});
  }
  std::string parent_id;
  std::set<std::string> damaged;
  if (local.ok()) {
    auto found = DamagedContent(registry, *local);
    if (!found.ok()) return found.status();
    damaged = std::move(found.value());
    auto head = registry.ResolveRevision(*local, *target ? FullRefName(**target) : spec.revision);
    if (head.ok() && head->id == remote->commit_id && spec.content_on_demand) {
      report.up_to_date = true;  // content arrives as clients ask for it
      return report;
    }
    if (head.ok() && head->id == remote->commit_id) {
      auto entries = registry.ListEntries(*local, head->id, "");
      if (!entries.ok()) return entries.status();
      std::vector<std::string> digests;
      for (const auto& entry : *entries) {
        if (entry.is_directory || damaged.contains(entry.sha256)) continue;
        if (entry.sha256.empty()) {
          damaged.insert("");  // content pull-through has not fetched yet
        } else {
          digests.push_back(entry.sha256);
        }
      }
      HM_RETURN_IF_ERROR(AddMissing(store, digests, &damaged));
      bool intact = true;
      for (const auto& entry : *entries) intact = intact && !damaged.contains(entry.sha256);
      if (intact) {
        report.up_to_date = true;
        return report;
      }
      Log(LogLevel::kWarning,
          Describe(spec, head->id) + ": fetching content found corrupt or missing");
    }
    if (head.ok()) parent_id = head->id;
  }

  auto listed = upstream.ListTree(spec.type, spec.repo, remote->commit_id);
  if (!listed.ok()) return listed.status();
  SelectedTree tree = SelectFiles(spec, *listed);
  // The commit's description is only needed for a commit this mirror has not stored yet.
  auto described = upstream.GetCommit(spec.type, spec.repo, remote->commit_id);
  if (!described.ok()) return described.status();

  registry::NewRevision& revision = outcome->revision.emplace();
  revision.type = spec.type;
  revision.repo_name = repo_name;
  revision.ref = *target;
  std::vector<std::string> sha256s;
  std::vector<size_t> same_content_as;
  std::vector<std::string> reused;
  auto to_fetch = PlanDownloads(registry, store, tree.files, damaged, &sha256s, &same_content_as,
                                &reused, &revision);
  if (!to_fetch.ok()) return to_fetch.status();
  std::vector<bool> fetching(tree.files.size(), false);
  std::vector<RemoteEntry> downloads;
  uint64_t planned_bytes = 0;
  for (size_t i : *to_fetch) {
    fetching[i] = true;
    downloads.push_back(tree.files[i]);
    planned_bytes += tree.files[i].size;
  }
  if (observer != nullptr) {
    for (size_t i = 0; i < tree.files.size(); ++i) {
      if (!fetching[i] && same_content_as[i] == SIZE_MAX) {
        observer->OnFileStored(tree.files[i].path, tree.files[i].size, false);
      }
    }
    observer->OnPlanned(downloads.size(), planned_bytes);
  }
  if (spec.content_on_demand) {
    // Content known by its digest gets an absent blob row; a git-stored file's digest is learnt
    // when its content arrives.
    for (size_t i : *to_fetch) {
      const RemoteEntry& file = tree.files[i];
      sha256s[i] = file.lfs ? file.sha256 : "";
      if (file.lfs) {
        revision.blobs.push_back({file.sha256, file.size, "", registry::BlobState::kAbsent});
      }
    }
  } else {
    if (spec.max_store_bytes && planned_bytes > 0) {
      auto kept = registry.KeptBytes();
      if (!kept.ok()) return kept.status();
      if (*kept + planned_bytes > *spec.max_store_bytes) {
        return Status(StatusCode::kFailedPrecondition,
                      Describe(spec, remote->commit_id) +
                          ": refused by the storage budget: " + std::to_string(planned_bytes) +
                          " bytes to download beside " + std::to_string(*kept) +
                          " bytes that may not be evicted exceed [storage] max_bytes " +
                          std::to_string(*spec.max_store_bytes) + "; nothing was downloaded");
      }
    }
    std::vector<storage::StoredBlob> stored;
    HM_RETURN_IF_ERROR(
        DownloadFiles(upstream, store, spec, remote->commit_id, downloads, observer, &stored));
    for (size_t k = 0; k < to_fetch->size(); ++k) {
      const storage::StoredBlob& blob = stored[k];
      sha256s[(*to_fetch)[k]] = blob.sha256;
      revision.blobs.push_back({blob.sha256, blob.size, blob.git_sha1});
      ++report.downloaded_files;
      report.downloaded_bytes += blob.size;
    }
  }
  for (size_t i = 0; i < tree.files.size(); ++i) {
    if (same_content_as[i] == SIZE_MAX) continue;
    sha256s[i] = sha256s[same_content_as[i]];
    if (observer != nullptr) observer->OnFileStored(tree.files[i].path, tree.files[i].size, false);
  }
  // What was counted on must still be there: only a collection that looked at a blob just before
  // it was marked used could have removed it.
  std::set<std::string> vanished;
  HM_RETURN_IF_ERROR(AddMissing(store, reused, &vanished));
  if (!vanished.empty()) {
    return IoError(Describe(spec, remote->commit_id) + ": content " + *vanished.begin() +
                   " left the store while the revision was synced; the next sync fetches it");
  }
  report.files = tree.files.size();
  HM_RETURN_IF_ERROR(BuildRevision(registry, local.ok() ? &local.value() : nullptr, parent_id, spec,
                                   *remote, *described, tree, sha256s, &revision));
  return report;
}

// Releases the revisions retention no longer keeps: the spec's rule, else the repo's setting.
Status ApplyRetention(registry::Registry& registry, const MirrorSpec& spec) {
  registry::Retention retention = spec.retention;
  if (!retention.Any()) {
    auto set = registry.GetRetention(spec.type, spec.repo);
    if (!set.ok()) return set.status();
    retention = *set;
  }
  if (!retention.Any()) return Status::Ok();
  auto released = registry.ReleaseRevisions(spec.type, spec.repo, retention);
  if (!released.ok()) return released.status();
  if (*released > 0) {
    Log(LogLevel::kInfo, Describe(spec, spec.revision) + ": released " + std::to_string(*released) +
                             " revisions that retention no longer keeps");
  }
  return Status::Ok();
}

// Applies a spec's access rule to its mirrored repo: the settings, then access for each user
// named and for every member of each organization named (users already granted are left alone).
Status ApplyAccessRule(registry::Registry& registry, const MirrorSpec& spec) {
  if (spec.access.is_private || spec.access.gated) {
    HM_RETURN_IF_ERROR(registry.SetAccessSettings(spec.type, spec.repo, spec.access));
  }
  if (spec.grants.empty()) return Status::Ok();
  auto accepted =
      registry.ListAccessRequests(spec.type, spec.repo, registry::AccessStatus::kAccepted);
  if (!accepted.ok()) return accepted.status();
  std::set<std::string> granted;  // lower-cased user names
  for (const auto& request : *accepted) granted.insert(AsciiLower(request.user));
  auto orgs = registry.ListOrgs();
  if (!orgs.ok()) return orgs.status();
  for (const auto& name : spec.grants) {
    std::vector<std::string> users;
    auto org = std::find_if(orgs->begin(), orgs->end(),
                            [&](const auto& o) { return EqualsIgnoringCase(o.name, name); });
    if (org != orgs->end()) {
      for (const auto& member : org->members) users.push_back(member.user);
    } else if (auto user = registry.FindUser(name); user.ok()) {
      users.push_back(user->name);
    } else {
      return NotFound(Describe(spec, spec.revision) + ": the mirror rule grants '" + name +
                      "', which is neither a user nor an organization here");
    }
    for (const auto& user : users) {
      if (!granted.insert(AsciiLower(user)).second) continue;
      HM_RETURN_IF_ERROR(registry.DecideAccess(
          spec.type, spec.repo, user, registry::AccessStatus::kAccepted, "mirror rule", ""));
    }
  }
  return Status::Ok();
}

}  // namespace

Result<MirrorReport> MirrorRepo(UpstreamHub& upstream, storage::BlobStore& store,
                                registry::Registry& registry, const MirrorSpec& spec,
                                MirrorObserver* observer) {
  HM_RETURN_IF_ERROR(ValidateRepoId(spec.repo));
  registry::SyncOutcome outcome;
  outcome.state.type = spec.type;
  outcome.state.repo = spec.repo;
  outcome.state.revision = spec.revision;
  outcome.state.upstream = upstream.Name();
  outcome.state.pull_through = spec.content_on_demand;
  // Held until the revision is published, so that garbage collection keeps the blobs this job
  // stores or counts on before any row names them. Recording metadata alone stores nothing.
  std::unique_ptr<storage::WriteLease> lease;
  if (!spec.content_on_demand) {
    auto leased = store.LeaseWrites();
    if (!leased.ok()) return leased.status();
    lease = std::move(leased.value());
  }
  bool revision_gone = false;
  auto report = MirrorRevision(upstream, store, registry, spec, observer, &outcome, &revision_gone);
  outcome.state.last_check_ms = NowUnixMillis();
  if (report.ok()) {
    outcome.state.local_commit = report->commit_id;
    outcome.state.last_success_ms = outcome.state.last_check_ms;
    auto recorded = registry.RecordSyncOutcome(outcome);
    if (recorded.ok()) {
      Status applied = ApplyAccessRule(registry, spec);
      if (applied.ok() && spec.writable) {
        applied = registry.SetLocalWrites(spec.type, spec.repo, *spec.writable);
      }
      if (applied.ok()) applied = ApplyRetention(registry, spec);
      if (applied.ok()) return report;
      return applied;
    }
    report =
        Status(recorded.status().code(), Describe(spec, report->commit_id) +
                                             ": cannot publish: " + recorded.status().message());
  }
  // A ref the upstream no longer has is deleted, so that the mirror stays true to it.
  if (revision_gone && (spec.ref || !IsSha1Hex(spec.revision))) {
    auto deleted = registry.DeleteRefs(spec.type, spec.repo, RefsNamedBy(spec));
    if (deleted.ok() && *deleted > 0) {
      Log(LogLevel::kInfo,
          Describe(spec, spec.revision) + ": deleted here too, as the upstream no longer has it");
    } else if (!deleted.ok()) {
      Log(LogLevel::kWarning,
          Describe(spec, spec.revision) + ": cannot delete the ref: " + deleted.status().message());
    }
  }
  // A failure publishes nothing but is recorded, for status pages and the next attempt; not for a
  // repo that a client's request named and the mirror does not have (pull-through), which would
  // let anyone fill the status page.
  if (spec.content_on_demand && !registry.FindRepo(spec.type, spec.repo).ok()) return report;
  outcome.revision.reset();
  outcome.details.clear();
  outcome.repo_details.reset();
  outcome.state.local_commit.clear();
  outcome.state.last_success_ms = 0;
  outcome.state.last_error = report.status().message();
  if (auto recorded = registry.RecordSyncOutcome(outcome); !recorded.ok()) {
    Log(LogLevel::kWarning,
        "cannot record sync state of " + spec.repo + ": " + recorded.status().message());
  }
  return report;
}

}  // namespace hubmirror::sync
