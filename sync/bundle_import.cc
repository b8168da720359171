// ImportBundle (sync/bundle.h): verify a bundle, store its content, publish its commits.
#include <algorithm>
#include <map>

#include "common/files.h"
#include "common/log.h"
#include "sync/bundle.h"
#include "sync/bundle_format.h"
#include "sync/bundle_volumes.h"

namespace hubmirror::sync {
namespace {

namespace fs = std::filesystem;

// Sets report->trusted when a trusted key verifies the bundle: kCorrupt when the key it names
// does not, kFailedPrecondition when no trusted key is its signer and untrusted ones are refused.
Status CheckSigner(const SignedJson& document, const ImportBundleOptions& options,
                   ImportBundleReport* report) {
  for (const auto& key : options.trusted_keys) {
    if (key->key_id() != report->signer) continue;
    if (!document.VerifiedBy(*key)) {
      return Corrupt(
          "the bundle's signature does not match its content: it was altered after "
          "key " +
          report->signer + " signed it");
    }
    report->trusted = true;
  }
  if (report->trusted) return Status::Ok();
  if (!options.allow_untrusted) {
    return Status(StatusCode::kFailedPrecondition,
                  "the bundle is signed by key " + report->signer +
                      ", which is not trusted: pass its public key with --trusted-key");
  }
  Log(LogLevel::kWarning, "IMPORTING A BUNDLE FROM AN UNTRUSTED SIGNER (key " + report->signer +
                              "): its content is verified against its own manifest only");
  return Status::Ok();
}

// Stores every carried blob the store lacks, verified against its size and digests as it is
// copied out of the volumes.
Status StoreBlobs(storage::BlobStore& store, const fs::path& dir, const BundleContent& bundle,
                  MirrorObserver* observer, ImportBundleReport* report) {
  std::vector<const BundleBlob*> to_store;
  uint64_t to_store_bytes = 0;
  for (const auto& blob : bundle.blobs) {
    // Stored content the bundle's commits count on is marked used, for garbage collection.
    Status touched = store.Touch(blob.sha256);
    if (!touched.ok() && touched.code() != StatusCode::kNotFound) return touched;
    if (touched.ok()) {
      ++report->skipped_blobs;
    } else {
      to_store.push_back(&blob);
      to_store_bytes += blob.size;
    }
  }
  if (observer != nullptr) observer->OnPlanned(to_store.size(), to_store_bytes);
  VolumeReader reader(dir, bundle.volume_size);
  for (const BundleBlob* blob : to_store) {
    storage::BlobExpectation expectation{blob->size, blob->sha256, blob->git_sha1};
    expectation.compute_git_sha1 = !expectation.git_sha1.empty();
    auto writer = store.NewWriter(expectation);
    if (!writer.ok()) return writer.status();
    HM_RETURN_IF_ERROR(reader.Copy(*blob, **writer, observer));
    auto stored = (*writer)->Commit();
    if (!stored.ok()) {
      return Status(stored.status().code(),
                    "blob " + blob->sha256 + " of the bundle: " + stored.status().message());
    }
    ++report->new_blobs;
    report->new_bytes += blob->size;
    if (observer != nullptr) observer->OnFileStored(blob->sha256, blob->size, true);
  }
  return Status::Ok();
}

// The flags and details to set on a repo, for one of its commits.
struct DetailsUpdate {
  RepoType type = RepoType::kModel;
  std::string repo;
  registry::RepoDetails details;
};

// What the import publishes, in one registry transaction, then records.
struct Publication {
  std::vector<registry::NewRevision> revisions;
  std::vector<registry::LineageEdge> edges;  // recorded by other models than the child
  std::vector<registry::ModelDetails> details;
  std::vector<DetailsUpdate> repo_details;  // one per commit a ref points at
};

// Turns the repos of a bundle whose content is stored into a Publication. Not thread-safe.
class Planner {
 public:
  Planner(storage::BlobStore& store, registry::Registry& registry, const BundleContent& bundle)
      : store_(store), registry_(registry) {
    for (const auto& blob : bundle.blobs) git_sha1s_[blob.sha256] = blob.git_sha1;
  }

  Status AddRepo(const BundleRepo& repo) {
    std::map<std::string, std::vector<RefName>> refs_at;  // commit -> refs
    for (const auto& [branch, commit] : repo.refs) {
      refs_at[commit].push_back({RefKind::kBranch, branch});
    }
    for (const auto& [ref, commit] : repo.other_refs) refs_at[commit].push_back(ref);
    const RefName default_branch{RefKind::kBranch, repo.default_branch};
    std::vector<registry::LineageEdge> card_edges;
    for (const auto& edge : repo.lineage) {
      bool own = edge.source == "card" || edge.source == "baseModels";
      (own ? card_edges : publication_.edges).push_back(edge);
    }
    if (repo.type == RepoType::kModel) {
      publication_.details.push_back(
          {repo.name, repo.pipeline_tag, repo.library_name, repo.details.downloads});
    }
    std::vector<registry::NewRevision> heads;
    std::vector<DetailsUpdate> updates;
    for (const auto& commit : repo.commits) {
      auto revision = Revision(repo, commit);
      if (!revision.ok()) return revision.status();
      auto at = refs_at.find(commit.commit.id);
      if (at == refs_at.end()) {
        publication_.revisions.push_back(std::move(revision.value()));
        continue;
      }
      // The default branch goes last: it carries the repo's card and lineage.
      std::stable_partition(at->second.begin(), at->second.end(),
                            [&](const RefName& ref) { return ref != default_branch; });
      for (const auto& ref : at->second) {
        registry::NewRevision head = *revision;
        head.ref = ref;
        // A tag does not move: the registry refuses one that points elsewhere here.
        if (ref.kind == RefKind::kTag) head.tags = {ref.name};
        if (ref == default_branch) head.lineage = card_edges;
        heads.push_back(std::move(head));
      }
      // With what the outer side computed for the commit.
      updates.push_back({repo.type, repo.name, repo.details});
      updates.back().details.commit = commit.commit;
      refs_at.erase(at);  // a commit the bundle lists twice is described once
    }
    if (updates.empty()) updates.push_back({repo.type, repo.name, repo.details});
    publication_.revisions.insert(publication_.revisions.end(),
                                  std::make_move_iterator(heads.begin()),
                                  std::make_move_iterator(heads.end()));
    publication_.repo_details.insert(publication_.repo_details.end(),
                                     std::make_move_iterator(updates.begin()),
                                     std::make_move_iterator(updates.end()));
    return Status::Ok();
  }

  const Publication& publication() const { return publication_; }

 private:
  // The commit with the blob row of each file: kCorrupt when a file's content is neither
  // carried nor already stored.
  Result<registry::NewRevision> Revision(const BundleRepo& repo, const BundleCommit& commit) {
    registry::NewRevision revision;
    revision.type = repo.type;
    revision.repo_name = repo.name;
    revision.default_branch = repo.default_branch;
    revision.commit = commit.commit;
    revision.entries = commit.entries;
    for (const auto& entry : commit.entries) {
      if (entry.is_directory) continue;
      auto contains = store_.Contains(entry.sha256);
      if (!contains.ok()) return contains.status();
      if (!*contains) {
        return Corrupt(std::string(RepoTypeName(repo.type)) + " " + repo.name + "@" +
                       commit.commit.id + " " + entry.path + ": content " + entry.sha256 +
                       " is neither in the bundle nor stored here");
      }
      auto row = registry_.FindBlob(entry.sha256);
      if (!row.ok()) return row.status();
      auto carried = git_sha1s_.find(entry.sha256);
      revision.blobs.push_back(
          *row ? **row
               : registry::BlobRow{entry.sha256, entry.size,
                                   carried != git_sha1s_.end() ? carried->second : ""});
    }
    return revision;
  }

  storage::BlobStore& store_;
  registry::Registry& registry_;
  std::map<std::string, std::string> git_sha1s_;  // of the carried blobs
  Publication publication_;
};

}  // namespace

Result<ImportBundleReport> ImportBundle(storage::BlobStore& store, registry::Registry& registry,
                                        const ImportBundleOptions& options,
                                        MirrorObserver* observer) {
  auto text = ReadTextFile(options.bundle / kBundleFile);
  if (!text.ok()) {
    return InvalidArgument(options.bundle.string() + " is not a finished bundle (no " +
                           kBundleFile + ")");
  }
  auto document = OpenBundleDocument(*text);
  if (!document.ok()) return document.status();
  ImportBundleReport report;
  report.signer = document->key_id();
  HM_RETURN_IF_ERROR(CheckSigner(*document, options, &report));
  auto bundle = ParseBundleContent(document->payload());
  if (!bundle.ok()) return bundle.status();
  // Every volume must be there, whole, before anything is stored.
  HM_RETURN_IF_ERROR(CheckVolumes(options.bundle, bundle->volume_size, bundle->bytes));
  // Held until the commits naming the blobs are published: garbage collection keeps them.
  auto lease = store.LeaseWrites();
  if (!lease.ok()) return lease.status();
  HM_RETURN_IF_ERROR(StoreBlobs(store, options.bundle, *bundle, observer, &report));

  Planner planner(store, registry, *bundle);
  for (const auto& repo : bundle->repos) {
    HM_RETURN_IF_ERROR(planner.AddRepo(repo));
    ++report.repos;
    report.commits += repo.commits.size();
  }
  const Publication& publication = planner.publication();
  auto published = registry.PublishRevisions(publication.revisions);
  if (!published.ok()) return published.status();
  report.commits_published = *published;
  // Published: a failure from here on must not read as "nothing published". The registry
  // publishes and sets details in transactions of its own, so the flags follow the commits.
  Status recorded = registry.AddLineageEdges(publication.edges);
  if (recorded.ok()) recorded = registry.RecordModelDetails(publication.details);
  for (const auto& update : publication.repo_details) {
    if (!recorded.ok()) break;
    recorded = registry.UpdateRepoDetails(update.type, update.repo, update.details);
  }
  if (!recorded.ok()) {
    return Status(recorded.code(),
                  "the commits were published, but the repos' flags and details or the lineage "
                  "recorded by other models were not: " +
                      recorded.message());
  }
  return report;
}

}  // namespace hubmirror::sync
