#include "sync/chunked_download.h"

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "common/mapped_buffer.h"

namespace hubmirror::sync {
namespace {

// Hands out the chunks of a byte span to the connections that fetch them and gives them back in
// order, never letting fetches run more than `window` chunks ahead of delivery, so memory stays
// bounded however large the file. Thread-safe.
class ChunkQueue {
 public:
  // The consumer's next chunk: buffered by a helper (`bytes`), or unclaimed, in which case the
  // consumer has just claimed it and streams it itself (`fetch_here`).
  struct Turn {
    size_t index = 0;
    bool fetch_here = false;
    MappedBuffer bytes;
  };

  ChunkQueue(ByteRange span, uint64_t chunk_bytes, size_t window)
      : span_(span),
        chunk_bytes_(chunk_bytes),
        count_((span.end - span.start + chunk_bytes - 1) / chunk_bytes),
        window_(window) {}

  ByteRange Range(size_t index) const {
    uint64_t start = span_.start + index * chunk_bytes_;
    return {start, std::min(span_.end, start + chunk_bytes_)};
  }

  // The next chunk for a helper to fetch into memory, once the window allows; nullopt when all
  // chunks are claimed or the transfer failed.
  std::optional<size_t> ClaimAhead() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] {
      return !failure_.ok() || next_claim_ >= count_ || next_claim_ < next_delivery_ + window_;
    });
    if (!failure_.ok() || next_claim_ >= count_) return std::nullopt;
    return next_claim_++;
  }

  void Finish(size_t index, const Status& fetched, MappedBuffer bytes) {
    std::lock_guard lock(mutex_);
    if (!fetched.ok()) {
      if (failure_.ok()) failure_ = fetched;
    } else {
      ready_[index] = std::move(bytes);
    }
    changed_.notify_all();
  }

  // Waits for the consumer's next chunk; nullopt when every chunk was delivered or one failed.
  std::optional<Turn> NextTurn() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] {
      return !failure_.ok() || next_delivery_ >= count_ || ready_.contains(next_delivery_) ||
             next_claim_ == next_delivery_;
    });
    if (!failure_.ok() || next_delivery_ >= count_) return std::nullopt;
    Turn turn;
    turn.index = next_delivery_;
    if (auto it = ready_.find(next_delivery_); it != ready_.end()) {
      turn.bytes = std::move(it->second);
      ready_.erase(it);
    } else {
      turn.fetch_here = true;
      ++next_claim_;
    }
    return turn;
  }

  void Delivered() {
    std::lock_guard lock(mutex_);
    ++next_delivery_;
    changed_.notify_all();
  }

  void Fail(const Status& failure) { Finish(0, failure, {}); }

  // A buffer for one chunk: one given back after delivery when there is one (its pages are
  // already mapped in), else a new one.
  MappedBuffer TakeBuffer() {
    std::lock_guard lock(mutex_);
    if (spare_.empty()) return MappedBuffer(chunk_bytes_);
    MappedBuffer buffer = std::move(spare_.back());
    spare_.pop_back();
    buffer.Clear();
    return buffer;
  }
  void GiveBack(MappedBuffer buffer) {
    std::lock_guard lock(mutex_);
    spare_.push_back(std::move(buffer));
  }

  Status failure() const {
    std::lock_guard lock(mutex_);
    return failure_;
  }

 private:
  const ByteRange span_;
  const uint64_t chunk_bytes_;
  const size_t count_;
  const size_t window_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  size_t next_claim_ = 0;
  size_t next_delivery_ = 0;
  std::map<size_t, MappedBuffer> ready_;
  std::vector<MappedBuffer> spare_;
  Status failure_;
};

}  // namespace

ChunkedDownloader::ChunkedDownloader(const CurlTransport& transport)
    : transport_(transport),
      chunk_bytes_(transport.options().range_chunk_bytes),
      helpers_available_(transport.options().range_helpers) {}

Status ChunkedDownloader::Fetch(const std::string& what, const std::string& resolve_url,
                                const std::string& direct_url, ByteRange span,
                                const ByteSink& sink) {
  size_t wanted =
      static_cast<size_t>((span.end - span.start + chunk_bytes_ - 1) / chunk_bytes_) - 1;
  size_t available = helpers_available_.load();
  size_t helpers = 0;
  do {
    helpers = std::min(wanted, available);
  } while (helpers > 0 &&
           !helpers_available_.compare_exchange_weak(available, available - helpers));
  if (helpers == 0) {
    std::string direct = direct_url;
    return transport_.FetchRange(what, resolve_url, &direct, {span.start, 0}, sink, nullptr,
                                 nullptr);
  }
  ChunkQueue queue(span, chunk_bytes_, helpers + 1);
  auto helper = [&] {
    std::string direct = direct_url;
    try {
      while (auto index = queue.ClaimAhead()) {
        ByteRange range = queue.Range(*index);
        MappedBuffer bytes = queue.TakeBuffer();
        ByteSink into_memory = [&](const char* data, size_t size) {
          bytes.Append(data, size);
          return Status::Ok();
        };
        Status fetched =
            transport_.FetchRange(what, resolve_url, &direct, range, into_memory, nullptr, nullptr);
        queue.Finish(*index, fetched, std::move(bytes));
      }
    } catch (const std::exception& e) {  // no memory for a chunk: fail the file, not the process
      queue.Fail(Internal(what + ": " + e.what()));
    }
  };
  std::vector<std::thread> threads;
  for (size_t h = 0; h < helpers; ++h) threads.emplace_back(helper);
  std::string direct = direct_url;
  while (auto turn = queue.NextTurn()) {
    Status delivered = turn->fetch_here
                           ? transport_.FetchRange(what, resolve_url, &direct,
                                                   queue.Range(turn->index), sink, nullptr, nullptr)
                           : sink(turn->bytes.data(), turn->bytes.size());
    if (!delivered.ok()) {
      queue.Fail(delivered);
      break;
    }
    if (!turn->fetch_here) queue.GiveBack(std::move(turn->bytes));
    queue.Delivered();
  }
  for (auto& thread : threads) thread.join();
  helpers_available_ += helpers;
  return queue.failure();
}

}  // namespace hubmirror::sync
