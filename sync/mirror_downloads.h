#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "storage/blob_store.h"
#include "sync/mirror_job.h"
#include "sync/upstream_hub.h"

namespace hubmirror::sync {

// Downloads `files` of one upstream commit into the store, `spec.concurrency` at a time, largest
// first (the long transfers start at once and small files fill the gaps beside them). Each file
// is verified against its size and SHA-256 (LFS) or git blob SHA-1 (other files) before it enters
// the store; a digest mismatch is fetched once more from scratch (a body corrupted in transit),
// a second one fails. Stops starting new files after the first failure and returns it, naming the
// repo, commit and file. On success `stored[i]` is the blob of `files[i]`. Partial bytes of an
// interrupted file stay for the next run to resume. Calls `observer` from the download threads.
Status DownloadFiles(UpstreamHub& upstream, storage::BlobStore& store, const MirrorSpec& spec,
                     const std::string& commit_id, const std::vector<RemoteEntry>& files,
                     MirrorObserver* observer, std::vector<storage::StoredBlob>* stored);

}  // namespace hubmirror::sync
