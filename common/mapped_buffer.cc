#include "common/mapped_buffer.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <utility>

namespace hubmirror {

MappedBuffer::MappedBuffer(size_t capacity) : capacity_(capacity) {
  void* mapped =
      ::mmap(nullptr, capacity, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mapped == MAP_FAILED) throw std::bad_alloc();
  data_ = static_cast<char*>(mapped);
}

MappedBuffer& MappedBuffer::operator=(MappedBuffer&& other) noexcept {
  std::swap(data_, other.data_);
  std::swap(size_, other.size_);
  std::swap(capacity_, other.capacity_);
  return *this;
}

MappedBuffer::~MappedBuffer() {
  if (data_ != nullptr) ::munmap(data_, capacity_);
}

size_t MappedBuffer::Append(const char* data, size_t size) {
  size = std::min(size, capacity_ - size_);
  std::memcpy(data_ + size_, data, size);
  size_ += size;
  return size;
}

}  // namespace hubmirror
