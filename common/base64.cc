#include "common/base64.h"

#include <openssl/evp.h>

namespace hubmirror {

std::optional<std::string> DecodeBase64(std::string_view text) {
  if (text.size() % 4 != 0 || text.size() > (size_t{1} << 31)) return std::nullopt;
  std::string decoded(text.size() / 4 * 3, '\0');
  int length = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(decoded.data()),
                               reinterpret_cast<const unsigned char*>(text.data()),
                               static_cast<int>(text.size()));
  // EVP_DecodeBlock counts the padding as bytes: trim what '=' stood for.
  size_t padding = text.ends_with("==") ? 2 : text.ends_with("=") ? 1 : 0;
  if (length < 0 || static_cast<size_t>(length) < padding) return std::nullopt;
  decoded.resize(static_cast<size_t>(length) - padding);
  return decoded;
}

}  // namespace hubmirror
