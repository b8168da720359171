#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/names.h"

namespace hubmirror::cli {

// Options that several subcommands share, converted by CLI11 as the command line is parsed: a
// bad value is a usage error (exit 2) naming the option, before anything runs.

// `--type`: model or dataset; `*type` keeps its value when the option is absent.
CLI::Option* AddRepoTypeOption(CLI::App* command, RepoType* type, const std::string& description);

// A byte size option: "700M", "4G", "1.5G", "64KiB", "2T" or a number of bytes (units are
// binary); at least one byte.
CLI::Option* AddSizeOption(CLI::App* command, const std::string& name, uint64_t* bytes,
                           const std::string& description);

// The number of bytes a size option's text means, or nullopt when it is not a size.
std::optional<uint64_t> ParseByteSize(std::string_view text);

// `--config FILE` on a command that reads or writes blobs: the TOML config whose [storage] table
// names the blob store (see storage_config.h); without it, files under the data directory.
CLI::Option* AddStorageConfigOption(CLI::App* command, std::string* config);

// A duration option (ParseDuration: "30s", "15m", "24h" or "90d"; "0s" too when `zero_allowed`).
// `*seconds` keeps its value when the option is absent.
CLI::Option* AddDurationOption(CLI::App* command, const std::string& name, int64_t* seconds,
                               const std::string& description, bool zero_allowed = false);

// Checks a user, organization or token name (ValidateAccountName).
CLI::Validator AccountName();

// Checks a repo id, ORG/NAME or a legacy single-segment NAME (ValidateRepoId).
CLI::Validator RepoId();

}  // namespace hubmirror::cli
