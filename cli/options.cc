#include "cli/options.h"

namespace hubmirror::cli {
namespace {

// A transform that replaces an option's text with the number `parse` reads from it, or names
// what was expected.
template <typename Number>
CLI::Validator Conversion(std::optional<Number> (*parse)(std::string_view), std::string expected,
                          std::string name) {
  return CLI::Validator(
      [parse, expected](std::string& value) -> std::string {
        auto parsed = parse(value);
        if (!parsed) return "must be " + expected + ", got '" + value + "'";
        value = std::to_string(*parsed);
        return "";
      },
      std::move(name));
}

std::string Problem(const Status& status) { return status.ok() ? "" : status.message(); }

}  // namespace

CLI::Option* AddRepoTypeOption(CLI::App* command, RepoType* type, const std::string& description) {
  CLI::Validator repo_type(
      [](std::string& value) -> std::string {
        RepoType parsed;
        if (!ParseRepoType(value, &parsed)) return "must be model or dataset, got '" + value + "'";
        value = std::to_string(static_cast<int>(parsed));
        return "";
      },
      "model|dataset");
  return command->add_option("--type", *type, description)
      ->transform(repo_type)
      ->default_str(std::string(RepoTypeName(*type)));
}

CLI::Option* AddSizeOption(CLI::App* command, const std::string& name, uint64_t* bytes,
                           const std::string& description) {
  return command->add_option(name, *bytes, description)
      ->transform(Conversion(ParseByteSize, "a size such as 700M, 4G or 1048576", "SIZE"));
}

std::optional<uint64_t> ParseByteSize(std::string_view text) {
  std::string copy(text);
  size_t used = 0;
  double number = 0;
  try {
    number = std::stod(copy, &used);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  std::string_view unit = text.substr(used);
  double scale = unit.empty() || unit == "B"    ? 1
                 : unit == "K" || unit == "KiB" ? 1024.0
                 : unit == "M" || unit == "MiB" ? 1024.0 * 1024
                 : unit == "G" || unit == "GiB" ? 1024.0 * 1024 * 1024
                 : unit == "T" || unit == "TiB" ? 1024.0 * 1024 * 1024 * 1024
                                                : -1;
  // Also refuses NaN, infinities and sizes past what 64 bits hold.
  double bytes = number * scale;
  if (!(bytes >= 1 && bytes < 18446744073709551616.0)) return std::nullopt;
  return static_cast<uint64_t>(bytes);
}

CLI::Option* AddStorageConfigOption(CLI::App* command, std::string* config) {
  return command
      ->add_option("--config", *config,
                   "TOML config whose [storage] names the blob store (default: the data directory)")
      ->check(CLI::ExistingFile);
}

CLI::Option* AddDurationOption(CLI::App* command, const std::string& name, int64_t* seconds,
                               const std::string& description, bool zero_allowed) {
  return command->add_option(name, *seconds, description)
      ->transform(Conversion(zero_allowed ? ParseDurationOrZero : ParseDuration,
                             "a duration such as 30s, 15m, 24h or 90d", "DURATION"));
}

CLI::Validator AccountName() {
  return CLI::Validator(
      [](const std::string& value) { return Problem(ValidateAccountName(value)); }, "NAME");
}

CLI::Validator RepoId() {
  return CLI::Validator([](const std::string& value) { return Problem(ValidateRepoId(value)); },
                        "ORG/NAME");
}

}  // namespace hubmirror::cli
