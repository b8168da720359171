#!/usr/bin/env bash
# Lineage benchmark: builds a synthetic Hub-shaped graph of MODELS (default 1,000,000) models in a
# fresh registry and prints ancestor-query latency (p50, p99) and the time to list every
# descendant of the largest family (100,000 models).
#
#   tests/bench/lineage.sh [BUILD_DIR]      (default: build)
set -euo pipefail
script_dir=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
build_dir=${1:-$script_dir/../../build}
bench=$build_dir/tests/lineage_bench
[[ -x $bench ]] || { echo "lineage.sh: error: $bench not built (cmake --build build)" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hubmirror-lineage.XXXXXX")
trap 'rm -rf -- "$tmp"' EXIT
"$bench" "$tmp/registry.db" "${MODELS:-1000000}"
