#include "storage/s3_presign.h"

#include <openssl/hmac.h>

#include <algorithm>
#include <ctime>

#include "common/digest.h"
#include "common/url.h"

namespace hubmirror::storage {
namespace {

constexpr int64_t kMaxValidSeconds = 7 * 24 * 3600;

std::string Hmac(const std::string& key, const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest, &length);
  return std::string(reinterpret_cast<char*>(digest), length);
}

std::string Utc(int64_t seconds, const char* format) {
  std::time_t time = static_cast<std::time_t>(seconds);
  std::tm parts{};
  gmtime_r(&time, &parts);
  char text[32];
  std::strftime(text, sizeof text, format, &parts);
  return text;
}

}  // namespace

std::string PresignedGetUrl(const S3Location& location, const S3Credentials& credentials,
                            const std::string& key, int64_t now, int64_t valid_seconds) {
  std::string endpoint = location.endpoint;
  size_t scheme_end = endpoint.find("://");
  size_t host_start = scheme_end == std::string::npos ? 0 : scheme_end + 3;
  std::string host = endpoint.substr(host_start);
  std::string object = "/" + PercentEncode(location.prefix + key, true);
  std::string path = object;
  if (location.virtual_host) {
    host = location.bucket + "." + host;
    endpoint.insert(host_start, location.bucket + ".");
  } else {
    path = "/" + location.bucket + object;
  }
  std::string date = Utc(now, "%Y%m%d");
  std::string stamp = Utc(now, "%Y%m%dT%H%M%SZ");
  std::string scope = date + "/" + location.region + "/s3/aws4_request";
  // Already in the sorted order the canonical request needs.
  std::string query =
      "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=" +
      PercentEncode(credentials.access_key + "/" + scope, false) + "&X-Amz-Date=" + stamp +
      "&X-Amz-Expires=" + std::to_string(std::clamp<int64_t>(valid_seconds, 1, kMaxValidSeconds)) +
      "&X-Amz-SignedHeaders=host";
  std::string canonical =
      "GET\n" + path + "\n" + query + "\nhost:" + host + "\n\nhost\nUNSIGNED-PAYLOAD";
  std::string to_sign = "AWS4-HMAC-SHA256\n" + stamp + "\n" + scope + "\n" + Sha256Hex(canonical);
  std::string signing =
      Hmac(Hmac(Hmac(Hmac("AWS4" + credentials.secret_key, date), location.region), "s3"),
           "aws4_request");
  std::string signature = Hmac(signing, to_sign);
  return endpoint + path + "?" + query + "&X-Amz-Signature=" +
         ToHex(reinterpret_cast<const unsigned char*>(signature.data()), signature.size());
}

}  // namespace hubmirror::storage
