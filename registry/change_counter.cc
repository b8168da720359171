#include "registry/change_counter.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

namespace hubmirror::registry {
namespace {

constexpr size_t kMappingBytes = 4096;

std::atomic_ref<uint64_t> Count(void* mapping) {
  return std::atomic_ref<uint64_t>(*static_cast<uint64_t*>(mapping));
}

}  // namespace

Result<std::unique_ptr<ChangeCounter>> ChangeCounter::Open(const std::filesystem::path& db_path) {
  std::filesystem::path path = db_path;
  path += "-changes";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return ErrnoStatus("cannot open " + path.string(), errno);
  }
  // A new file grows to its size once; ftruncate to the same size changes nothing.
  if (::ftruncate(fd, kMappingBytes) != 0) {
    Status status = ErrnoStatus("cannot size " + path.string(), errno);
    ::close(fd);
    return status;
  }
  void* mapping = ::mmap(nullptr, kMappingBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  int mapped_errno = errno;
  ::close(fd);
  if (mapping == MAP_FAILED) {
    return ErrnoStatus("cannot map " + path.string(), mapped_errno);
  }
  return std::unique_ptr<ChangeCounter>(new ChangeCounter(mapping));
}

ChangeCounter::~ChangeCounter() { ::munmap(mapping_, kMappingBytes); }

uint64_t ChangeCounter::Load() const { return Count(mapping_).load(std::memory_order_acquire); }

void ChangeCounter::Bump() { Count(mapping_).fetch_add(1, std::memory_order_acq_rel); }

}  // namespace hubmirror::registry
