// Fuzzes the reading of an S3 server's XML answers (listings, upload listings, a multipart
// upload's id, errors) and of its times: any bytes must give values or a clear refusal, never a
// crash, an exception or a hang (deep nesting, huge numbers, truncated tags, odd entities).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "storage/s3_xml.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view xml(reinterpret_cast<const char*>(data), size);
  using namespace hubmirror::storage;
  if (auto page = ParseListObjects(xml); page.ok()) {
    for (const auto& object : page->objects) (void)object.key.size();
  }
  if (auto page = ParseListMultipartUploads(xml); page.ok()) (void)page->uploads.size();
  (void)ParseInitiateMultipart(xml).ok();
  (void)ParseError(xml).has_value();
  (void)ParseS3Time(xml).has_value();
  return 0;
}
