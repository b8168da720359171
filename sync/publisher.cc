#include "sync/publisher.h"

#include <functional>
#include <map>

#include "common/clock.h"
#include "common/digest.h"
#include "common/lfs_rules.h"
#include "sync/git_objects.h"
#include "sync/model_card.h"
#include "sync/revision_entries.h"

namespace hubmirror::sync {
namespace {

// Times a commit without a parent is built again when the branch moves under it.
constexpr int kCommitAttempts = 5;
// A README larger than this is not read for its card (its front matter sits at the top anyway).
constexpr uint64_t kMaxCardBytes = 1u << 20;

std::string Describe(RepoType type, const std::string& repo) {
  return std::string(RepoTypeName(type)) + " " + repo;
}

// The git identity of a commit by `user` of this instance.
std::string Identity(const std::string& user) { return user + " <" + user + "@users.noreply>"; }

// Stores bytes (hashed once, SHA-256 and git SHA-1) and returns the stored blob.
Result<storage::StoredBlob> StoreBytes(storage::BlobStore& store, const std::string& bytes) {
  auto writer = store.NewWriter({bytes.size(), "", ""});
  if (!writer.ok()) return writer.status();
  HM_RETURN_IF_ERROR((*writer)->Append(bytes.data(), bytes.size()));
  return (*writer)->Commit();
}

// A file of the new tree: its entry, the blob row of content this commit adds (empty for a file
// kept from the parent, whose row stays as it is), and the bytes of a README.md added inline.
struct TreeFile {
  registry::Entry entry;
  registry::BlobRow blob;
  std::string content;
};

TreeFile RegularFile(const std::string& path, const storage::StoredBlob& stored,
                     std::string content) {
  TreeFile file;
  file.entry.path = path;
  file.entry.size = stored.size;
  file.entry.sha256 = stored.sha256;
  file.entry.git_oid = stored.git_sha1;
  file.blob = {stored.sha256, stored.size, stored.git_sha1};
  file.content = std::move(content);
  return file;
}

TreeFile LfsFile(const std::string& path, const std::string& sha256, uint64_t size) {
  TreeFile file;
  file.entry.path = path;
  file.entry.size = size;
  file.entry.sha256 = sha256;
  file.entry.lfs = true;
  std::string pointer = LfsPointer(sha256, size);
  file.entry.git_oid = GitObjectId("blob", pointer);
  file.entry.pointer_size = pointer.size();
  file.blob = {sha256, size, ""};
  return file;
}

// Removes `path` (a file, or every file under it) from `files`; false when nothing was there.
bool RemovePath(std::map<std::string, TreeFile>& files, const std::string& path, bool file_too) {
  bool removed = file_too && files.erase(path) > 0;
  std::string prefix = path + "/";
  for (auto it = files.lower_bound(prefix);
       it != files.end() && it->first.compare(0, prefix.size(), prefix) == 0;) {
    it = files.erase(it);
    removed = true;
  }
  return removed;
}

// kInvalidArgument when a path of the tree is also a folder of another ("a" and "a/b").
Status CheckNoFileFolderClash(const std::map<std::string, TreeFile>& files) {
  for (const auto& [path, file] : files) {
    auto next = files.upper_bound(path);
    if (next != files.end() && next->first.compare(0, path.size() + 1, path + "/") == 0) {
      return InvalidArgument(path + " cannot be both a file and a folder");
    }
  }
  return Status::Ok();
}

}  // namespace

Result<registry::Registry*> RegistryPublisher::Registry() {
  if (!registry_) {
    auto opened = registry::Registry::Open(registry_path_, registry::Registry::Mode::kReadWrite);
    if (!opened.ok()) return opened.status();
    registry_ = std::move(opened.value());
  }
  return registry_.get();
}

Status RegistryPublisher::CreateRepo(RepoType type, const std::string& repo, bool is_private,
                                     const std::string& author) {
  std::lock_guard lock(mutex_);
  auto registry = Registry();
  if (!registry.ok()) return registry.status();
  if ((*registry)->FindRepo(type, repo).ok()) {
    return Status(StatusCode::kAlreadyExists,
                  "You already created this " + std::string(RepoTypeName(type)) + " repo");
  }
  auto lease = store_.LeaseWrites();
  if (!lease.ok()) return lease.status();
  std::string gitattributes = DefaultGitattributes();
  auto stored = StoreBytes(store_, gitattributes);
  if (!stored.ok()) return stored.status();
  TreeFile file = RegularFile(".gitattributes", *stored, "");
  GitTrees trees = BuildGitTrees({{file.entry.path, file.entry.git_oid}});
  registry::NewRevision revision;
  revision.type = type;
  revision.repo_name = repo;
  revision.ref = RefName{RefKind::kBranch, "main"};
  revision.expected_head = "";
  revision.private_if_created = is_private;
  int64_t seconds = NowUnixMillis() / 1000;
  registry::Commit& commit = revision.commit;
  commit.title = "initial commit";
  commit.message = "initial commit\n";
  commit.author = author;
  commit.date_ms = seconds * 1000;
  commit.tree_id = trees.root_id;
  commit.id = GitCommitId(trees.root_id, "", Identity(author), seconds, commit.message);
  file.entry.last_commit_id = commit.id;
  revision.entries = {file.entry};
  revision.blobs = {file.blob};
  auto published = (*registry)->PublishRevision(revision);
  if (published.status().code() == StatusCode::kFailedPrecondition) {
    return Status(StatusCode::kAlreadyExists,
                  "You already created this " + std::string(RepoTypeName(type)) + " repo");
  }
  return published.status();
}

Status RegistryPublisher::DeleteRepo(RepoType type, const std::string& repo) {
  std::lock_guard lock(mutex_);
  auto registry = Registry();
  if (!registry.ok()) return registry.status();
  return (*registry)->DeleteRepo(type, repo);
}

Result<std::string> RegistryPublisher::Commit(const api::CommitRequest& request) {
  std::lock_guard lock(mutex_);
  auto opened = Registry();
  if (!opened.ok()) return opened.status();
  // A commit that names no parent is made on whatever the head is: when another process moved
  // the branch between reading it and publishing, it is built again on the new head.
  for (int attempt = 1;; ++attempt) {
    auto committed = CommitOnHead(**opened, request);
    if (committed.ok() || request.parent_commit || attempt == kCommitAttempts ||
        committed.status().code() != StatusCode::kFailedPrecondition) {
      return committed;
    }
  }
}

Result<std::string> RegistryPublisher::CommitOnHead(registry::Registry& registry,
                                                    const api::CommitRequest& request) {
  std::string what = Describe(request.type, request.repo);
  auto repo = registry.FindRepo(request.type, request.repo);
  if (!repo.ok()) return repo.status();
  auto refs = registry.ListRefs(*repo);
  if (!refs.ok()) return refs.status();
  std::string head_id;
  for (const auto& ref : *refs) {
    if (ref.kind == RefKind::kBranch && ref.name == request.branch) head_id = ref.commit_id;
  }
  if (head_id.empty()) {
    return Status(StatusCode::kRevisionNotFound,
                  what + ": no branch " + request.branch + " (create it first)");
  }
  if (request.parent_commit &&
      head_id.compare(0, request.parent_commit->size(), AsciiLower(*request.parent_commit)) != 0) {
    return Status(StatusCode::kFailedPrecondition,
                  "The branch was updated since you opened this page. Please refresh and try "
                  "again.");
  }
  auto head = registry.ResolveRevision(*repo, head_id);
  if (!head.ok()) return head.status();
  auto entries = registry.ListEntries(*repo, head_id, "");
  if (!entries.ok()) return entries.status();
  std::map<std::string, TreeFile> files;
  for (auto& entry : *entries) {
    if (entry.is_directory) continue;
    TreeFile file;
    file.entry = std::move(entry);
    files.emplace(file.entry.path, std::move(file));
  }

  // Held until the revision naming what this commit stores is published.
  auto lease = store_.LeaseWrites();
  if (!lease.ok()) return lease.status();
  for (const auto& op : request.operations) {
    using Kind = api::CommitOperation::Kind;
    switch (op.kind) {
      case Kind::kAddFile: {
        auto stored = StoreBytes(store_, op.content);
        if (!stored.ok()) return stored.status();
        files[op.path] = RegularFile(op.path, *stored, op.path == "README.md" ? op.content : "");
        break;
      }
      case Kind::kAddLfsFile: {
        auto stored = store_.Open(op.sha256);
        if (!stored.ok()) {
          return Status(StatusCode::kCorrupt,
                        what + ": " + op.path + ": LFS object " + op.sha256 + " was not uploaded");
        }
        if (op.size && *op.size != stored->size()) {
          return Status(StatusCode::kCorrupt, what + ": " + op.path + ": LFS object " + op.sha256 +
                                                  " has " + std::to_string(stored->size()) +
                                                  " bytes, not " + std::to_string(*op.size));
        }
        HM_RETURN_IF_ERROR(store_.Touch(op.sha256));
        files[op.path] = LfsFile(op.path, op.sha256, stored->size());
        break;
      }
      case Kind::kDeleteFile:
      case Kind::kDeleteFolder:
        if (!RemovePath(files, op.path, op.kind == Kind::kDeleteFile)) {
          return Status(StatusCode::kEntryNotFound,
                        "A file with this name doesn't exist: " + op.path + " in " + what);
        }
        break;
    }
  }
  HM_RETURN_IF_ERROR(CheckNoFileFolderClash(files));

  std::vector<GitTreeFile> tree_files;
  std::vector<std::string> paths;
  for (const auto& [path, file] : files) {
    tree_files.push_back({path, file.entry.git_oid});
    paths.push_back(path);
  }
  GitTrees trees = BuildGitTrees(tree_files);
  if (trees.root_id == head->tree_id) return head_id;  // nothing changed

  registry::NewRevision revision;
  revision.type = request.type;
  revision.repo_name = repo->name;
  revision.ref = RefName{RefKind::kBranch, request.branch};
  revision.expected_head = head_id;
  nlohmann::json card_data;
  if (auto readme = files.find("README.md"); readme != files.end()) {
    std::string text = readme->second.content;
    if (text.empty() && !readme->second.entry.lfs) {
      // A README too large to be a card is published without one.
      auto read = storage::ReadWholeBlob(store_, readme->second.entry.sha256, kMaxCardBytes);
      if (read.ok()) {
        text = std::move(read.value());
      } else if (read.status().code() != StatusCode::kInvalidArgument) {
        return read.status();
      }
    }
    auto parsed = ParseFrontMatter(text);
    if (!parsed.ok()) return InvalidArgument("README.md: " + parsed.status().message());
    card_data = std::move(parsed.value());
  }
  CardInfo card = DeriveCardInfo(repo->name, card_data, paths);
  int64_t seconds = NowUnixMillis() / 1000;
  registry::Commit& commit = revision.commit;
  commit.title = request.summary.empty() ? "Upload files" : request.summary;
  commit.message =
      commit.title + "\n" + (request.description.empty() ? "" : "\n" + request.description + "\n");
  commit.author = request.author;
  commit.date_ms = seconds * 1000;
  commit.tree_id = trees.root_id;
  commit.parent_id = head_id;
  commit.id =
      GitCommitId(trees.root_id, head_id, Identity(request.author), seconds, commit.message);
  ApplyCard(card_data, card, &revision);
  for (auto& [path, file] : files) {
    revision.entries.push_back(file.entry);
    if (!file.blob.sha256.empty()) revision.blobs.push_back(file.blob);
  }
  AppendDirectoryEntries(trees, &revision.entries);
  HM_RETURN_IF_ERROR(
      AssignLastCommits(registry, &repo.value(), head_id, commit.id, &revision.entries));
  auto published = registry.PublishRevision(revision);
  if (!published.ok()) return published.status();
  return commit.id;
}

namespace {

// One upload into the store, verified against what the batch announced before it is kept.
class StoreUpload : public api::UploadSink {
 public:
  StoreUpload(std::unique_ptr<storage::BlobWriter> writer,
              std::unique_ptr<storage::WriteLease> lease, std::function<void()> on_stored)
      : writer_(std::move(writer)), lease_(std::move(lease)), on_stored_(std::move(on_stored)) {}

  Status Append(const char* data, size_t size) override { return writer_->Append(data, size); }
  Status Finish() override {
    auto stored = writer_->Commit();
    if (!stored.ok()) return stored.status();
    on_stored_();
    return Status::Ok();
  }

 private:
  std::unique_ptr<storage::BlobWriter> writer_;
  std::unique_ptr<storage::WriteLease> lease_;  // keeps gc from the bytes until the upload ends
  std::function<void()> on_stored_;
};

constexpr int64_t kUploadMemoryMs = 24 * 3600 * 1000;

}  // namespace

Result<std::unique_ptr<api::UploadSink>> RegistryPublisher::BeginUpload(
    const std::string& sha256, uint64_t size, const std::string& uploader) {
  auto lease = store_.LeaseWrites();
  if (!lease.ok()) return lease.status();
  storage::BlobExpectation expectation{size, sha256, ""};
  expectation.compute_git_sha1 = false;
  auto writer = store_.NewWriter(expectation);
  if (!writer.ok()) return writer.status();
  return std::unique_ptr<api::UploadSink>(std::make_unique<StoreUpload>(
      std::move(writer.value()), std::move(lease.value()),
      [this, uploader, sha256] { RememberUpload(uploader, sha256); }));
}

Status RegistryPublisher::BeginMultipart(const std::string& sha256, uint64_t size,
                                         uint64_t part_bytes, const std::string& uploader) {
  return multipart_.Begin({uploader, sha256}, size, part_bytes);
}

Result<std::unique_ptr<api::UploadSink>> RegistryPublisher::BeginPart(const std::string& sha256,
                                                                      const std::string& uploader,
                                                                      uint32_t part) {
  return multipart_.Part({uploader, sha256}, part);
}

Status RegistryPublisher::CompleteMultipart(const std::string& sha256,
                                            const std::string& uploader) {
  auto stored = multipart_.Complete({uploader, sha256});
  // A completion sent again (the client's retry) after it succeeded.
  if (stored.status().code() == StatusCode::kNotFound && Uploaded(uploader, sha256)) {
    return Status::Ok();
  }
  if (!stored.ok()) return stored.status();
  RememberUpload(uploader, sha256);
  return Status::Ok();
}

void RegistryPublisher::RememberUpload(const std::string& uploader, const std::string& sha256) {
  std::lock_guard lock(uploads_mutex_);
  int64_t now = NowUnixMillis();
  for (auto it = uploads_.begin(); it != uploads_.end();) {
    it = now - it->second > kUploadMemoryMs ? uploads_.erase(it) : std::next(it);
  }
  uploads_[{uploader, sha256}] = now;
}

bool RegistryPublisher::Uploaded(const std::string& user, const std::string& sha256) {
  std::lock_guard lock(uploads_mutex_);
  auto found = uploads_.find({user, sha256});
  return found != uploads_.end() && NowUnixMillis() - found->second <= kUploadMemoryMs;
}

api::PublishLimits RegistryPublisher::Limits() {
  std::lock_guard lock(uploads_mutex_);
  return limits_;
}

void RegistryPublisher::SetLimits(api::PublishLimits quotas) {
  std::lock_guard lock(uploads_mutex_);
  limits_ = std::move(quotas);
}

}  // namespace hubmirror::sync
