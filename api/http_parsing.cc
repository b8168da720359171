#include "api/http_parsing.h"

#include <charconv>

#include "common/names.h"

namespace hubmirror::api {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// Parses a run of decimal digits; false for empty input, other characters or overflow.
bool ParseUint(std::string_view text, uint64_t* value) {
  if (text.empty()) return false;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), *value);
  return error == std::errc() && end == text.data() + text.size();
}

Result<std::string> DecodeFormComponent(std::string_view text) {
  std::string spaced(text);
  for (char& c : spaced) {
    if (c == '+') c = ' ';
  }
  return PercentDecode(spaced);
}

}  // namespace

Result<std::string> PercentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%') {
      int high = i + 2 < text.size() ? HexValue(text[i + 1]) : -1;
      int low = i + 2 < text.size() ? HexValue(text[i + 2]) : -1;
      if (high < 0 || low < 0) return InvalidArgument("malformed percent-encoding in URL");
      c = static_cast<char>(high * 16 + low);
      i += 2;
    }
    auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) return InvalidArgument("control character in URL");
    out += c;
  }
  return out;
}

Result<QueryParams> ParseQuery(std::string_view query) {
  QueryParams params;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    auto key = DecodeFormComponent(pair.substr(0, eq));
    if (!key.ok()) return key.status();
    auto value = DecodeFormComponent(eq == std::string_view::npos ? "" : pair.substr(eq + 1));
    if (!value.ok()) return value.status();
    params.emplace_back(std::move(key.value()), std::move(value.value()));
  }
  return params;
}

std::vector<std::string> QueryValues(const QueryParams& params, std::string_view key) {
  std::vector<std::string> values;
  for (const auto& [k, v] : params) {
    if (k == key || (k.size() == key.size() + 2 && k.compare(0, key.size(), key) == 0 &&
                     k.compare(key.size(), 2, "[]") == 0)) {
      values.push_back(v);
    }
  }
  return values;
}

std::optional<std::string> QueryValue(const QueryParams& params, std::string_view key) {
  auto values = QueryValues(params, key);
  if (values.empty()) return std::nullopt;
  return values.front();
}

std::optional<bool> ParseBool(std::string_view text) {
  std::string lower = AsciiLower(text);
  if (lower == "true" || lower == "1") return true;
  if (lower == "false" || lower == "0") return false;
  return std::nullopt;
}

RangeOutcome ParseRange(std::string_view header, uint64_t size, ByteRange* range) {
  header = Trim(header);
  constexpr std::string_view kUnit = "bytes=";
  if (header.size() < kUnit.size() || AsciiLower(header.substr(0, kUnit.size())) != kUnit) {
    return RangeOutcome::kMalformed;
  }
  std::string_view spec = Trim(header.substr(kUnit.size()));
  if (spec.find(',') != std::string_view::npos) return RangeOutcome::kMalformed;
  size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return RangeOutcome::kMalformed;
  std::string_view first_text = Trim(spec.substr(0, dash));
  std::string_view last_text = Trim(spec.substr(dash + 1));
  uint64_t first = 0;
  uint64_t last = 0;
  if (first_text.empty()) {
    // Suffix range: the last N bytes.
    uint64_t suffix = 0;
    if (!ParseUint(last_text, &suffix)) return RangeOutcome::kMalformed;
    if (size == 0) return RangeOutcome::kFullBody;
    if (suffix == 0) return RangeOutcome::kUnsatisfiable;
    range->first = suffix >= size ? 0 : size - suffix;
    range->last = size - 1;
    return RangeOutcome::kPartial;
  }
  if (!ParseUint(first_text, &first)) return RangeOutcome::kMalformed;
  if (last_text.empty()) {
    last = UINT64_MAX;
  } else if (!ParseUint(last_text, &last) || last < first) {
    return RangeOutcome::kMalformed;
  }
  if (size == 0) return RangeOutcome::kFullBody;
  if (first >= size) return RangeOutcome::kUnsatisfiable;
  range->first = first;
  range->last = last >= size ? size - 1 : last;
  return RangeOutcome::kPartial;
}

bool IfNoneMatchMatches(std::string_view header, std::string_view quoted_etag) {
  while (!header.empty()) {
    size_t comma = header.find(',');
    std::string_view candidate = Trim(header.substr(0, comma));
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
    if (candidate == "*") return true;
    if (candidate.substr(0, 2) == "W/") candidate.remove_prefix(2);
    if (candidate == quoted_etag) return true;
  }
  return false;
}

}  // namespace hubmirror::api
