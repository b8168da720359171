#include "common/mapped_buffer.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <string>

namespace hubmirror {
namespace {

TEST_CASE("a mapped buffer is page-aligned and keeps what fits", "[mapped_buffer]") {
  MappedBuffer buffer(8192);
  CHECK(reinterpret_cast<uintptr_t>(buffer.data()) % 4096 == 0);
  CHECK(buffer.capacity() == 8192);
  std::string bytes(5000, 'a');
  CHECK(buffer.Append(bytes.data(), bytes.size()) == 5000);
  CHECK_FALSE(buffer.full());
  std::string more(5000, 'b');
  CHECK(buffer.Append(more.data(), more.size()) == 3192);  // the rest does not fit
  CHECK(buffer.full());
  CHECK(std::string(buffer.data(), buffer.size()) == bytes + more.substr(0, 3192));
  buffer.Clear();
  CHECK(buffer.size() == 0);
  CHECK(buffer.capacity() == 8192);
}

TEST_CASE("a moved mapped buffer hands over its memory", "[mapped_buffer]") {
  MappedBuffer source(4096);
  source.Append("abc", 3);
  const char* memory = source.data();
  MappedBuffer target = std::move(source);
  CHECK(target.data() == memory);
  CHECK(target.size() == 3);
  CHECK(source.capacity() == 0);  // move construction leaves the source without memory
  MappedBuffer other(4096);
  other = std::move(target);
  CHECK(other.data() == memory);
}

}  // namespace
}  // namespace hubmirror
