#!/usr/bin/env bash
# Installs hubmirror's build, test and benchmark dependencies from Debian packages.
# Idempotent: packages already present are skipped, so a second run changes nothing.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git
  libboost1.81-dev libcurl4-openssl-dev libsqlite3-dev libssl-dev
  nlohmann-json3-dev catch2 libcli11-dev libtomlplusplus-dev libyaml-cpp-dev
  curl nginx-light wrk time prometheus
  systemd procps strace
  clang-14 libclang-rt-14-dev
  # A single-node Ceph cluster with its S3 gateway, for tests against real object storage
  # (tests/support/ceph_rgw.sh).
  ceph-mon ceph-osd radosgw ceph-common uuid-runtime
  # The web UI: Markdown cards and lineage drawings; Chromium for its browser tests.
  libcmark-gfm-dev libcmark-gfm-extensions-dev libgraphviz-dev chromium
)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$package")
done
# Node.js may come from another Debian-format repository that bundles npm; only add Debian's
# packages when the commands are absent, since Debian's npm conflicts with such a nodejs.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)

if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing packages: ${missing[*]}; run this script as root" >&2
    exit 2
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
