#pragma once

#include <cstddef>
#include <utility>

namespace hubmirror {

// A fixed-capacity byte buffer mapped straight from the kernel (so page-aligned, as O_DIRECT
// needs) and unmapped when dropped: heap buffers this large stay with the allocator's
// per-thread arenas after they are freed, and resident memory would grow with every one.
// Move-only; one thread at a time.
class MappedBuffer {
 public:
  MappedBuffer() = default;
  // Throws std::bad_alloc when the kernel has no memory for it.
  explicit MappedBuffer(size_t capacity);
  MappedBuffer(MappedBuffer&& other) noexcept { *this = std::move(other); }
  MappedBuffer& operator=(MappedBuffer&& other) noexcept;
  MappedBuffer(const MappedBuffer&) = delete;
  MappedBuffer& operator=(const MappedBuffer&) = delete;
  ~MappedBuffer();

  void Clear() { size_ = 0; }
  // Copies as much of `data` as fits; returns how much that was.
  size_t Append(const char* data, size_t size);
  const char* data() const { return data_; }
  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }
  bool full() const { return size_ == capacity_; }

 private:
  char* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

}  // namespace hubmirror
