#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite (unit, integration and
# end-to-end tests with the official JavaScript client). Exits non-zero if anything fails.
# Warnings fail this build (HUBMIRROR_WERROR), unlike a user's. CXX=clang++-14 builds and tests
# with clang instead of GCC, in a build directory of its own. Arguments go to ctest, e.g.
# `deploy/test.sh -L unit`.
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/common.sh

build_dir=build
case "${CXX:-}" in
  *clang*) build_dir=build-clang ;;
esac

hubmirror_install_deps
HUBMIRROR_WERROR=ON hubmirror_build "$build_dir"
# The end-to-end test's client, pinned by tests/e2e/package-lock.json.
(cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error)
cd "$build_dir"
ctest --output-on-failure "$@"
