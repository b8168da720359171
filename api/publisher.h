#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/names.h"
#include "common/status.h"

namespace hubmirror::api {

// Publishing, as the write routes of the API need it (hub-protocol §12): repos created and
// deleted, commits made. The API owns this interface and checks who may write; the sync layer
// implements it with the blob store and the registry, and `serve` wires it in. Implementations
// are thread-safe.

// The limits of publishing (`[publish]` in the config): the bytes of content a namespace's repos
// may use (quotas), and from what size an upload goes in parts when the client can. Value type.
struct PublishLimits {
  std::optional<uint64_t> default_bytes;            // every namespace without its own
  std::map<std::string, uint64_t> namespace_bytes;  // by lower-cased namespace
  // An LFS object larger than this goes in parts (of 100 MiB) when the client offers the
  // multipart transfer. Parts cost the server more when they come at once (the JavaScript client
  // sends five: early ones are stored aside and copied into place), so only objects large enough
  // that retrying a part instead of the whole is worth it go that way.
  uint64_t multipart_above_bytes = uint64_t{1} << 30;

  // The quota of a namespace, if any.
  std::optional<uint64_t> For(std::string_view space) const;
};

// One change of a commit (the NDJSON lines after the header).
struct CommitOperation {
  enum class Kind {
    kAddFile,       // `file`: `content` holds the bytes (decoded from base64)
    kAddLfsFile,    // `lfsFile`: content already stored, named by `sha256` (and `size`, if given)
    kDeleteFile,    // `deletedFile`: a file, or every file under a folder of that name
    kDeleteFolder,  // `deletedFolder`: every file under the folder
  };
  Kind kind = Kind::kAddFile;
  std::string path;  // validated repo path; a folder's without its trailing '/'
  std::string content;
  std::string sha256;
  std::optional<uint64_t> size;
};

struct CommitRequest {
  RepoType type = RepoType::kModel;
  std::string repo;
  std::string branch;
  // A commit id or its prefix (5-40 hex): the commit must be made on top of it, or it is refused.
  std::optional<std::string> parent_commit;
  std::string summary;
  std::string description;
  std::string author;  // the caller's user name
  std::vector<CommitOperation> operations;
};

// Where the bytes of one LFS upload go as they arrive. Used by one request at a time.
class UploadSink {
 public:
  virtual ~UploadSink() = default;
  virtual Status Append(const char* data, size_t size) = 0;
  // Checks that the bytes were exactly the announced size and SHA-256 and stores them
  // (kCorrupt naming both digests or sizes otherwise; nothing is stored then). Once stored, the
  // uploader may name the content in commits.
  virtual Status Finish() = 0;
};

class Publisher {
 public:
  virtual ~Publisher() = default;

  // Creates a repo whose `main` has one commit with the Hub's default `.gitattributes`, by
  // `author`. kAlreadyExists when it exists.
  virtual Status CreateRepo(RepoType type, const std::string& repo, bool is_private,
                            const std::string& author) = 0;
  // Deletes a repo (its content becomes garbage for gc). kRepoNotFound.
  virtual Status DeleteRepo(RepoType type, const std::string& repo) = 0;
  // Makes a commit on a branch and returns its id. A file added with the content of the same
  // path at the parent changes nothing; a commit that changes nothing returns the head. Errors:
  // kRevisionNotFound (no such branch), kFailedPrecondition (`parent_commit` is not the head, or
  // the branch moved meanwhile), kEntryNotFound (a deleted path that does not exist), kCorrupt
  // (an LFS file whose content is not stored, or has another size), kInvalidArgument (a file
  // and a folder of one name). Nothing is visible unless the whole commit is.
  virtual Result<std::string> Commit(const CommitRequest& request) = 0;

  // Starts receiving the content `sha256` of `size` bytes from `uploader`. Content stored
  // already is received all the same: the bytes prove that the uploader has it.
  virtual Result<std::unique_ptr<UploadSink>> BeginUpload(const std::string& sha256, uint64_t size,
                                                          const std::string& uploader) = 0;
  // Multipart uploads (hub-protocol §12.6.4): the content sent as parts of `part_bytes` (the
  // last may be shorter), numbered from 1, in any order and several at once. BeginMultipart
  // starts one (again, if it was under way). BeginPart: where part `part` goes; the sink's Finish
  // checks the part's size (kCorrupt). kNotFound when no such upload is under way (forgotten
  // after a day or a restart), kInvalidArgument for a part out of range, kFailedPrecondition
  // while the part is being received or once the upload failed (a part that broke off may have
  // left part of its bytes: the object must be uploaded again). CompleteMultipart checks and
  // stores the content as UploadSink::Finish does: kFailedPrecondition naming the parts missing,
  // kCorrupt for the wrong bytes. Completing content that this uploader stored already succeeds.
  virtual Status BeginMultipart(const std::string& sha256, uint64_t size, uint64_t part_bytes,
                                const std::string& uploader) = 0;
  virtual Result<std::unique_ptr<UploadSink>> BeginPart(const std::string& sha256,
                                                        const std::string& uploader,
                                                        uint32_t part) = 0;
  virtual Status CompleteMultipart(const std::string& sha256, const std::string& uploader) = 0;
  // Whether `user` uploaded this content (for the last day): they may name it in a commit even
  // when no file they can read uses it yet.
  virtual bool Uploaded(const std::string& user, const std::string& sha256) = 0;
  // The quotas in force (a reload may change them).
  virtual PublishLimits Limits() = 0;
};

inline std::optional<uint64_t> PublishLimits::For(std::string_view space) const {
  auto found = namespace_bytes.find(AsciiLower(space));
  if (found != namespace_bytes.end()) return found->second;
  return default_bytes;
}

}  // namespace hubmirror::api
