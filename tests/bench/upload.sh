#!/usr/bin/env bash
# Upload benchmark: publishing a ~1 GiB folder (LARGE_FILES *.safetensors and SMALL_FILES small
# files) to `hubmirror serve` with the official client, against what that client needs anyway
# (hashing the files) plus what storing the bytes costs at least (cp and fsync of the same files),
# and the server's peak RSS during the upload.
#
#   tests/bench/upload.sh [HUBMIRROR_BIN]
#
# Binary: $1, else $HUBMIRROR_BIN, else build/hubmirror under the repo root.
# Environment knobs:
#   ROUNDS       rounds (default 3)
#   SIZE_MIB     total size of the folder in MiB (default 1024)
#   SMALL_FILES  number of small files (default 100; 4-64 KiB each)
#   LARGE_FILES  number of large *.safetensors files sharing the rest (default 3)
#   CMD_TIMEOUT  seconds allowed for each timed command (default 600)
#
# The client is @huggingface/hub (tests/e2e, installed by `npm ci` there, as deploy/test.sh does):
# huggingface_hub, Python, is not packaged for Debian 12 and the suite installs nothing from PyPI.
# tests/e2e/upload_bench_driver.mjs runs it. Each round, on a fresh server and data dir:
#   upload     uploadFiles of the whole folder to a new repo: preupload, the LFS batch, the
#              client's own sha256 of every LFS file, one PUT per LFS file, or for a file over
#              100 MiB its parts (several at once) and a completion (streamed into the store,
#              hashed and checked), the commit.
#   reference  the same client's sha256 of every file (its own code, exported for this), then
#              `cp -r` of the folder and `sync` of the copies: the least any upload must cost.
#   figure     upload time / reference time, the median of the rounds' ratios; the server's VmHWM
#              (peak RSS) after the upload, the largest of the rounds'.
# Before each timed command, untimed: the source back into the page cache and dirty pages written
# out. After each upload, untimed: every file downloaded back from the server and compared by
# sha256 with the source.
#
# Exits non-zero if a server fails to start, an upload fails or a file comes back different;
# otherwise it only reports figures (targets are printed, not enforced).
set -euo pipefail

script_dir=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd -- "$script_dir/../.." && pwd)

BIN=${1:-${HUBMIRROR_BIN:-$repo_root/build/hubmirror}}
ROUNDS=${ROUNDS:-3}
SIZE_MIB=${SIZE_MIB:-1024}
SMALL_FILES=${SMALL_FILES:-100}
LARGE_FILES=${LARGE_FILES:-3}
CMD_TIMEOUT=${CMD_TIMEOUT:-600}
DRIVER=$repo_root/tests/e2e/upload_bench_driver.mjs
REPO=bench/upload-model

BENCH_NAME=upload.sh
source "$script_dir/lib.sh"

[[ -x $BIN ]] || die "hubmirror binary not found or not executable: $BIN"
BIN=$(cd -- "$(dirname -- "$BIN")" && pwd)/$(basename -- "$BIN")
for tool in node curl openssl timeout awk sort; do
  command -v "$tool" >/dev/null || die "$tool not found"
done
[[ -d $repo_root/tests/e2e/node_modules/@huggingface/hub ]] ||
  die "@huggingface/hub is not installed: run npm ci in tests/e2e"
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer"
[[ $SIZE_MIB =~ ^[1-9][0-9]*$ ]] || die "SIZE_MIB must be a positive integer"
[[ $SMALL_FILES =~ ^[0-9]+$ ]] || die "SMALL_FILES must be a non-negative integer"
[[ $LARGE_FILES =~ ^[1-9][0-9]*$ ]] || die "LARGE_FILES must be a positive integer"

start_bench_dir

use_private_binary "$BIN" "$tmp"
note_load
note_memory $((3 * SIZE_MIB)) "the source files, the server's blobs and the copies"

# The source, and per round a server's blobs and a copy.
need_mib=$(((2 * ROUNDS + 1) * SIZE_MIB))
avail_mib=$(($(df -Pk -- "$tmp" | awk 'NR == 2 { print $4 }') / 1024))
((avail_mib >= need_mib)) ||
  die "needs about $need_mib MiB free under ${TMPDIR:-/tmp}, has $avail_mib MiB (lower ROUNDS or SIZE_MIB, or set TMPDIR)"

make_model_source "$tmp/src"
mapfile -t files < <(cd -- "$tmp/src" && find . -type f -printf '%P\n' | sort)
src_paths=()
for f in "${files[@]}"; do src_paths+=("$tmp/src/$f"); done

settle() {  # the source back into the page cache, dirty pages written out
  cat -- "${src_paths[@]}" >/dev/null
  command sync
}

# Runs the driver with MODE ARGS; prints the seconds it reports.
driver() {
  (cd -- "$repo_root/tests/e2e" && timeout -k 5 "$CMD_TIMEOUT" node "$DRIVER" "$@") ||
    die "the client's $1 failed"
}

# Every file back from the server, compared by sha256 with the source.
check_round_trip() {  # check_round_trip BASE
  local f want got
  for f in "${files[@]}"; do
    want=$(openssl dgst -sha256 -r "$tmp/src/$f" | cut -d' ' -f1)
    got=$(curl -sS -f "$1/$REPO/resolve/main/$f" | openssl dgst -sha256 -r | cut -d' ' -f1)
    [[ $got == "$want" ]] || die "$f came back with sha256 $got, want $want"
  done
}

ratios=()
peak_kib=0
for ((r = 1; r <= ROUNDS; r++)); do
  data=$tmp/data-$r
  start_serve "server-$r" "$data"
  "$HM" --data "$data" user add uploader >/dev/null
  token=$("$HM" --data "$data" token create --user uploader --scope write | tail -n 1)
  owner=${REPO%%/*}
  "$HM" --data "$data" org add "$owner" >/dev/null
  "$HM" --data "$data" org add-member "$owner" uploader --role write >/dev/null
  curl -sS -f -X POST -H "Authorization: Bearer $token" -H "Content-Type: application/json" \
    -d "{\"name\": \"${REPO#*/}\", \"organization\": \"$owner\"}" "$srv_base/api/repos/create" \
    >/dev/null || die "creating $REPO failed"

  settle
  upload_s=$(driver upload "$srv_base" "$token" "$REPO" "$tmp/src" | tail -n 1)
  check_alive "hubmirror serve" "$srv_pid" "$tmp/server-$r.err" "during the upload"
  kib=$(awk '/^VmHWM:/ { print $2 }' "/proc/$srv_pid/status")
  ((kib > peak_kib)) && peak_kib=$kib
  check_round_trip "$srv_base"
  stop "$srv_pid"
  srv_pid=""

  settle
  hash_s=$(driver hash "$tmp/src" | tail -n 1)
  settle
  t0=$(now_ns)
  cp -r -- "$tmp/src" "$tmp/copy-$r"
  command sync -- "$tmp/copy-$r"/*
  t1=$(now_ns)
  copy_s=$(secs "$t0" "$t1")
  reference_s=$(awk -v a="$hash_s" -v b="$copy_s" 'BEGIN { printf "%.3f", a + b }')
  ratios+=("$(ratio "$upload_s" "$reference_s")")
  log "round $r: upload ${upload_s} s; reference ${reference_s} s (client sha256 ${hash_s} s," \
    "cp + fsync ${copy_s} s); ratio ${ratios[-1]}; server peak RSS $((kib / 1024)) MiB"
done

echo "upload of $SIZE_MIB MiB ($LARGE_FILES large + $SMALL_FILES small files) with @huggingface/hub"
echo "  ratio upload / (client sha256 + cp + fsync), median of $ROUNDS: $(printf '%s\n' "${ratios[@]}" | median)"
echo "  server peak RSS: $((peak_kib / 1024)) MiB"
