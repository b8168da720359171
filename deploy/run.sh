#!/usr/bin/env bash
# Installs what is missing, builds, and runs the server on the embedded default: SQLite and local
# files under ./hubmirror-data, listening on 127.0.0.1:8080, keeping the repos of
# deploy/hubmirror.example.toml mirrored from huggingface.co. Override with HUBMIRROR_DATA,
# HUBMIRROR_LISTEN (e.g. 0.0.0.0:8080 to serve other machines) and HUBMIRROR_CONFIG.
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/common.sh

hubmirror_install_deps
hubmirror_build build --target hubmirror
exec build/hubmirror serve --data "${HUBMIRROR_DATA:-./hubmirror-data}" \
  --listen "${HUBMIRROR_LISTEN:-127.0.0.1:8080}" \
  --config "${HUBMIRROR_CONFIG:-deploy/hubmirror.example.toml}"
