#!/usr/bin/env bash
# Fuzzes the parsers that read untrusted input (request targets, Range headers, model card front
# matter, bundle.json, upstream JSON answers, Authorization headers, admin job requests, commit
# bodies, S3 servers' XML answers, model cards rendered as HTML) with libFuzzer under AddressSanitizer and
# UndefinedBehaviorSanitizer.
#
#   tests/fuzz/run.sh [SECONDS_PER_TARGET]     (default 60)
#
# Builds with clang into build-fuzz/. New interesting inputs are kept in build-fuzz/corpus/; a
# crash leaves its input in build-fuzz/ and makes this script exit non-zero.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-60}
CC=clang-14 CXX=clang++-14 cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DHUBMIRROR_FUZZ=ON >/dev/null
targets=(route_fuzzer range_fuzzer front_matter_fuzzer bundle_fuzzer hub_json_fuzzer
         authorization_fuzzer job_request_fuzzer commit_request_fuzzer s3_xml_fuzzer
         markdown_card_fuzzer)
cmake --build build-fuzz -j"$(nproc)" --target "${targets[@]}"
for target in "${targets[@]}"; do
  name=${target%_fuzzer}
  mkdir -p "build-fuzz/corpus/$name"
  echo "== fuzzing $name for ${seconds}s"
  (cd build-fuzz && "tests/$target" -max_total_time="$seconds" -max_len=16384 \
     "corpus/$name" "../tests/fuzz/seeds/$name")
done
