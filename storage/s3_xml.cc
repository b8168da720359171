#include "storage/s3_xml.h"

#include <algorithm>
#include <boost/property_tree/ptree.hpp>
#include <boost/property_tree/xml_parser.hpp>
#include <charconv>
#include <ctime>
#include <sstream>

namespace hubmirror::storage {
namespace {

using boost::property_tree::ptree;

// Answers larger than this are not S3's (a listing page of 1,000 keys is about 300 KB).
constexpr size_t kMaxXmlBytes = size_t{16} << 20;

// S3's answers nest a few levels; the parser recurses once per level, so deeper input could
// exhaust the stack.
constexpr int kMaxDepth = 16;

// Whether elements nest deeper than kMaxDepth, by counting open and close tags (a cheap upper
// bound, checked before the parser recurses).
bool TooDeep(std::string_view xml) {
  int depth = 0;
  for (size_t i = 0; i + 1 < xml.size(); ++i) {
    if (xml[i] == '<') {
      char next = xml[i + 1];
      if (next == '/') {
        depth = std::max(depth - 1, 0);
      } else if (next != '?' && next != '!' && ++depth > kMaxDepth) {
        return true;
      }
    } else if (xml[i] == '/' && xml[i + 1] == '>') {
      depth = std::max(depth - 1, 0);
    }
  }
  return false;
}

Result<ptree> ParseXml(std::string_view xml, const char* root) {
  if (xml.size() > kMaxXmlBytes) return InvalidArgument("an S3 answer of over 16 MiB");
  if (TooDeep(xml)) return InvalidArgument("an S3 answer nested over 16 levels deep");
  ptree tree;
  try {
    std::istringstream in{std::string(xml)};
    boost::property_tree::read_xml(in, tree);
  } catch (const std::exception& e) {
    return InvalidArgument(std::string("an S3 answer that is not XML: ") + e.what());
  }
  auto found = tree.get_child_optional(root);
  if (!found) return InvalidArgument(std::string("an S3 answer without <") + root + ">");
  return *found;
}

std::optional<uint64_t> ToUnsigned(const std::string& text) {
  uint64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) return {};
  return value;
}

}  // namespace

std::optional<int64_t> ParseS3Time(std::string_view text) {
  std::string copy(text.substr(0, 64));
  std::tm parts{};
  const char* end = strptime(copy.c_str(), "%Y-%m-%dT%H:%M:%S", &parts);
  int64_t millis = 0;
  if (end != nullptr) {
    // Optional fraction, then Z.
    if (*end == '.') {
      ++end;
      int digits = 0;
      for (; *end >= '0' && *end <= '9'; ++end, ++digits) {
        if (digits < 3) millis = millis * 10 + (*end - '0');
      }
      for (; digits > 0 && digits < 3; ++digits) millis *= 10;
    }
    if (*end != 'Z' || end[1] != '\0') return std::nullopt;
  } else {
    parts = {};
    end = strptime(copy.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &parts);
    if (end == nullptr || *end != '\0') return std::nullopt;
  }
  time_t seconds = timegm(&parts);
  if (seconds == static_cast<time_t>(-1)) return std::nullopt;
  return int64_t{seconds} * 1000 + millis;
}

Result<S3ListPage> ParseListObjects(std::string_view xml) {
  auto root = ParseXml(xml, "ListBucketResult");
  if (!root.ok()) return root.status();
  S3ListPage page;
  for (const auto& [name, child] : *root) {
    if (name != "Contents") continue;
    S3Object object;
    object.key = child.get<std::string>("Key", "");
    auto size = ToUnsigned(child.get<std::string>("Size", ""));
    auto modified = ParseS3Time(child.get<std::string>("LastModified", ""));
    if (object.key.empty() || !size || !modified) {
      return InvalidArgument("an S3 listing entry without a key, size or time");
    }
    object.size = *size;
    object.modified_ms = *modified;
    object.etag = child.get<std::string>("ETag", "");
    page.objects.push_back(std::move(object));
  }
  if (root->get<std::string>("IsTruncated", "false") == "true") {
    std::string token = root->get<std::string>("NextContinuationToken", "");
    if (token.empty())
      return InvalidArgument("a truncated S3 listing without a continuation token");
    page.next_token = std::move(token);
  }
  return page;
}

Result<S3UploadsPage> ParseListMultipartUploads(std::string_view xml) {
  auto root = ParseXml(xml, "ListMultipartUploadsResult");
  if (!root.ok()) return root.status();
  S3UploadsPage page;
  for (const auto& [name, child] : *root) {
    if (name != "Upload") continue;
    S3PendingUpload upload;
    upload.key = child.get<std::string>("Key", "");
    upload.upload_id = child.get<std::string>("UploadId", "");
    auto initiated = ParseS3Time(child.get<std::string>("Initiated", ""));
    if (upload.key.empty() || upload.upload_id.empty() || !initiated) {
      return InvalidArgument("an S3 upload listing entry without a key, id or time");
    }
    upload.initiated_ms = *initiated;
    page.uploads.push_back(std::move(upload));
  }
  if (root->get<std::string>("IsTruncated", "false") == "true") {
    std::string key = root->get<std::string>("NextKeyMarker", "");
    std::string id = root->get<std::string>("NextUploadIdMarker", "");
    if (key.empty()) return InvalidArgument("a truncated S3 upload listing without a next marker");
    page.next_markers = std::make_pair(std::move(key), std::move(id));
  }
  return page;
}

Result<std::string> ParseInitiateMultipart(std::string_view xml) {
  auto root = ParseXml(xml, "InitiateMultipartUploadResult");
  if (!root.ok()) return root.status();
  std::string id = root->get<std::string>("UploadId", "");
  if (id.empty()) return InvalidArgument("an S3 multipart upload without an UploadId");
  return id;
}

std::optional<S3Error> ParseError(std::string_view xml) {
  auto root = ParseXml(xml, "Error");
  if (!root.ok()) return std::nullopt;
  return S3Error{root->get<std::string>("Code", ""), root->get<std::string>("Message", "")};
}

}  // namespace hubmirror::storage
