#include "sync/local_import.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <map>

#include "common/clock.h"
#include "common/digest.h"
#include "common/files.h"
#include "common/lfs_rules.h"
#include "sync/git_objects.h"
#include "sync/model_card.h"
#include "sync/revision_entries.h"

namespace hubmirror::sync {
namespace fs = std::filesystem;
namespace {

constexpr size_t kReadChunk = 1 << 20;
constexpr const char* kCommitIdentity = "hubmirror <hubmirror@localhost>";

struct SourceFile {
  std::string path;   // repo path, '/'-separated
  fs::path location;  // where to read it (a symlink's resolved target)
  uint64_t size = 0;
};

Status Refuse(const fs::path& source, const std::string& relative, const std::string& why) {
  return InvalidArgument("cannot import " + (source / relative).string() + ": " + why);
}

// Lists the folder, refusing anything that cannot become a repo file.
Result<std::vector<SourceFile>> ScanSource(const fs::path& source) {
  std::error_code ec;
  fs::path root = fs::canonical(source, ec);
  if (ec) return InvalidArgument("cannot import " + source.string() + ": " + ec.message());
  if (!fs::is_directory(root)) return InvalidArgument(source.string() + " is not a directory");
  std::vector<SourceFile> files;
  fs::recursive_directory_iterator it(root, fs::directory_options::none, ec);
  if (ec) return ErrnoStatus("cannot read " + source.string(), ec);
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) return ErrnoStatus("cannot read " + source.string(), ec);
    const fs::directory_entry& entry = *it;
    std::string relative = entry.path().lexically_relative(root).generic_string();
    if (entry.path().filename() == ".git") {
      if (entry.is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    Status name_ok = ValidateRepoPath(relative);
    if (!name_ok.ok()) return Refuse(source, relative, name_ok.message());
    fs::file_status status = entry.symlink_status(ec);
    if (ec) return ErrnoStatus("cannot stat " + entry.path().string(), ec);
    fs::path location = entry.path();
    if (fs::is_symlink(status)) {
      fs::path target = fs::canonical(entry.path(), ec);
      if (ec) return Refuse(source, relative, "broken symlink");
      std::string inside = target.lexically_relative(root).generic_string();
      if (inside.empty() || inside == ".." || inside.rfind("../", 0) == 0) {
        return Refuse(source, relative, "symlink points outside the folder");
      }
      status = fs::status(target, ec);
      if (ec || !fs::is_regular_file(status)) {
        return Refuse(source, relative, "symlink to something other than a regular file");
      }
      location = target;
    } else if (fs::is_directory(status)) {
      continue;
    } else if (!fs::is_regular_file(status)) {
      return Refuse(source, relative, "not a regular file (device, socket or pipe)");
    }
    uint64_t size = fs::file_size(location, ec);
    if (ec) return ErrnoStatus("cannot stat " + location.string(), ec);
    files.push_back(SourceFile{relative, location, size});
  }
  std::sort(files.begin(), files.end(),
            [](const SourceFile& a, const SourceFile& b) { return a.path < b.path; });
  return files;
}

// Streams one file into the store; returns its digests. The size was taken during the scan, so
// a file that changes meanwhile fails the writer's size check instead of importing torn bytes.
// LFS content is known by its SHA-256 (its git id is the pointer's), so its git SHA-1 is skipped.
Result<storage::StoredBlob> StoreFile(storage::BlobStore& store, const SourceFile& file, bool lfs) {
  int fd = ::open(file.location.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("cannot open " + file.location.string(), errno);
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  storage::BlobExpectation expectation{file.size, "", ""};
  expectation.compute_git_sha1 = !lfs;
  auto writer = store.NewWriter(expectation);
  if (!writer.ok()) {
    ::close(fd);
    return writer.status();
  }
  std::vector<char> buffer(kReadChunk);
  Status status;
  while (status.ok()) {
    ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) status = ErrnoStatus("cannot read " + file.location.string(), errno);
    if (n <= 0) break;
    status = (*writer)->Append(buffer.data(), static_cast<size_t>(n));
  }
  ::close(fd);
  if (!status.ok()) return Status(status.code(), file.path + ": " + status.message());
  auto stored = (*writer)->Commit();
  if (!stored.ok()) {
    return Status(stored.status().code(),
                  file.path + " changed while importing: " + stored.status().message());
  }
  return stored;
}

}  // namespace

Status ValidateImportOptions(const ImportOptions& options) {
  HM_RETURN_IF_ERROR(ValidateRepoId(options.repo));
  HM_RETURN_IF_ERROR(ValidateRefName({RefKind::kBranch, options.branch}));
  for (const auto& tag : options.tags) HM_RETURN_IF_ERROR(ValidateRefName({RefKind::kTag, tag}));
  return Status::Ok();
}

Result<ImportReport> ImportFolder(storage::BlobStore& store, registry::Registry& registry,
                                  const ImportOptions& options) {
  HM_RETURN_IF_ERROR(ValidateImportOptions(options));
  auto scanned = ScanSource(options.source);
  if (!scanned.ok()) return scanned.status();
  // Held until the revision naming the stored files is published: garbage collection keeps them.
  auto lease = store.LeaseWrites();
  if (!lease.ok()) return lease.status();
  const std::vector<SourceFile>& files = scanned.value();

  std::vector<std::string> lfs_patterns = DefaultLfsPatterns();
  nlohmann::json card_data;
  std::vector<std::string> paths;
  for (const auto& file : files) {
    paths.push_back(file.path);
    if (file.path == ".gitattributes") {
      auto text = ReadTextFile(file.location);
      if (!text.ok()) return text.status();
      for (auto& pattern : ParseLfsPatterns(*text)) lfs_patterns.push_back(std::move(pattern));
    } else if (file.path == "README.md") {
      auto text = ReadTextFile(file.location);
      if (!text.ok()) return text.status();
      auto parsed = ParseFrontMatter(*text);
      if (!parsed.ok()) return Refuse(options.source, "README.md", parsed.status().message());
      card_data = std::move(parsed.value());
    }
  }
  CardInfo card = DeriveCardInfo(options.repo, card_data, paths);

  ImportReport report;
  report.warnings = card.warnings;
  registry::NewRevision revision;
  revision.type = options.type;
  revision.repo_name = options.repo;
  revision.ref = RefName{RefKind::kBranch, options.branch};
  revision.tags = options.tags;
  std::vector<GitTreeFile> tree_files;
  for (const auto& file : files) {
    bool lfs = IsLfsFile(file.path, file.size, lfs_patterns);
    auto stored = StoreFile(store, file, lfs);
    if (!stored.ok()) return stored.status();
    registry::Entry entry;
    entry.path = file.path;
    entry.size = stored->size;
    entry.sha256 = stored->sha256;
    entry.lfs = lfs;
    if (entry.lfs) {
      std::string pointer = LfsPointer(stored->sha256, stored->size);
      entry.git_oid = GitObjectId("blob", pointer);
      entry.pointer_size = pointer.size();
    } else {
      entry.git_oid = stored->git_sha1;
    }
    tree_files.push_back(GitTreeFile{entry.path, entry.git_oid});
    revision.blobs.push_back(registry::BlobRow{stored->sha256, stored->size, stored->git_sha1});
    revision.entries.push_back(std::move(entry));
    report.bytes += stored->size;
  }
  report.files = files.size();
  GitTrees trees = BuildGitTrees(tree_files);
  AppendDirectoryEntries(trees, &revision.entries);

  // The parent is the branch head, if the repo and branch exist.
  std::string parent_id;
  auto repo = registry.FindRepo(options.type, options.repo);
  if (repo.ok()) {
    auto head = registry.ResolveRevision(*repo, options.branch);
    if (head.ok()) {
      if (head->tree_id == trees.root_id) {
        report.commit_id = head->id;
        // Nothing to commit, but the tags asked for still name the head.
        revision.commit.id = head->id;
        if (!options.tags.empty()) {
          auto tagged = registry.PublishRevision(revision);
          if (!tagged.ok()) return tagged.status();
        }
        return report;
      }
      parent_id = head->id;
    } else if (head.status().code() != StatusCode::kRevisionNotFound) {
      return head.status();
    }
  } else if (repo.status().code() != StatusCode::kRepoNotFound) {
    return repo.status();
  }

  int64_t now_seconds = NowUnixMillis() / 1000;
  registry::Commit& commit = revision.commit;
  commit.title = "Import from local folder";
  commit.message = commit.title + "\n";
  commit.author = "hubmirror";
  commit.date_ms = now_seconds * 1000;
  commit.tree_id = trees.root_id;
  commit.parent_id = parent_id;
  commit.id = GitCommitId(trees.root_id, parent_id, kCommitIdentity, now_seconds, commit.message);
  HM_RETURN_IF_ERROR(AssignLastCommits(registry, repo.ok() ? &repo.value() : nullptr, parent_id,
                                       commit.id, &revision.entries));
  ApplyCard(card_data, card, &revision);
  auto published = registry.PublishRevision(revision);
  if (!published.ok()) return published.status();
  report.commit_id = commit.id;
  report.created_commit = published.value();
  return report;
}

}  // namespace hubmirror::sync
