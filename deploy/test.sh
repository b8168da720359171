#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite (unit, integration and
# end-to-end tests with the official JavaScript client). Exits non-zero if anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/common.sh

hubmirror_install_deps
hubmirror_build build
# The end-to-end test's client, pinned by tests/e2e/package-lock.json.
(cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error)
cd build
ctest --output-on-failure
