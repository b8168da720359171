#!/usr/bin/env bash
# Sync benchmark: `hubmirror sync` of a ~1 GiB repo from a local upstream hubmirror,
# compared with plain curl downloads and plain sha256 hashing of the same files.
#
#   tests/bench/sync.sh [HUBMIRROR_BIN]
#
# Binary: $1, else $HUBMIRROR_BIN, else build/hubmirror under the repo root.
# Environment knobs:
#   ROUNDS       rounds of the measurements, order rotating (default 3)
#   SIZE_MIB     total size of the source repo in MiB (default 1024)
#   SMALL_FILES  number of small files (default 200; 4-64 KiB each)
#   LARGE_FILES  number of large *.safetensors files sharing the rest (default 3)
#   CMD_TIMEOUT  seconds allowed for each timed command (default 300)
#
# A sync has to download every byte, hash it (sha256 for LFS files, git SHA-1 for
# the others) and store it durably. A perfectly overlapped sync therefore takes
# max(download, hash, store); the ratio the target applies to is
# sync / max(curl, sha256). The storage floor (copy the same files into a fresh
# dir and fsync each, as the blob store does) is measured and printed too, for
# information: it is a property of the disk, not of the sync.
#
# Everything runs from the page cache: the source files and the upstream's blobs
# are read again (untimed) before every timed command, as a kernel that reclaims
# cold pages proactively (DAMON) may have dropped them since the last round, and
# dirty pages are flushed (sync(1), untimed) before it too, so no measurement pays
# for another's writeback. The sync's own fsyncs are part of its time.
#
# Every sync and every storage copy writes into a fresh directory that is kept
# until the end: deleting a GiB of files just before a timed command made it pay
# for the deletion (ext4 without a journal skips inodes freed in the last 30 s
# when it allocates new ones, and a `discard` mount trims the freed blocks),
# which a sync into a long-lived store never does. The run needs about
# (2 * ROUNDS + 4) * SIZE_MIB MiB of free disk space, and checks for it. On a
# file system kept in memory (TMPDIR on a tmpfs) that much would be RAM, and
# none of this applies: there each copy is removed before the next one is made.
#
# Exits non-zero if a command fails or times out, curl gets the wrong number
# of bytes, the sync reports other files or byte counts than the source has,
# the mirror serves wrong bytes, or a second sync is not "up to date";
# otherwise it only reports figures (targets are printed, not enforced).
set -euo pipefail

script_dir=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd -- "$script_dir/../.." && pwd)

BIN=${1:-${HUBMIRROR_BIN:-$repo_root/build/hubmirror}}
ROUNDS=${ROUNDS:-3}
SIZE_MIB=${SIZE_MIB:-1024}
SMALL_FILES=${SMALL_FILES:-200}
LARGE_FILES=${LARGE_FILES:-3}
CMD_TIMEOUT=${CMD_TIMEOUT:-300}
REPO=bench/sync-model
MIB=1048576

BENCH_NAME=sync.sh
source "$script_dir/lib.sh"

[[ -x $BIN ]] || die "hubmirror binary not found or not executable: $BIN"
BIN=$(cd -- "$(dirname -- "$BIN")" && pwd)/$(basename -- "$BIN")
for tool in curl openssl timeout awk sort head; do
  command -v "$tool" >/dev/null || die "$tool not found"
done
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer"
[[ $SIZE_MIB =~ ^[1-9][0-9]*$ ]] || die "SIZE_MIB must be a positive integer"
[[ $SMALL_FILES =~ ^[0-9]+$ ]] || die "SMALL_FILES must be a non-negative integer"
[[ $LARGE_FILES =~ ^[1-9][0-9]*$ ]] || die "LARGE_FILES must be a positive integer"
[[ $CMD_TIMEOUT =~ ^[1-9][0-9]*$ ]] || die "CMD_TIMEOUT must be a positive integer"
# Peak RSS: GNU time's %M when available, else polling /proc/PID/status.
GNU_TIME=""
if [[ -x /usr/bin/time ]] && /usr/bin/time -f %M -o /dev/null true 2>/dev/null; then
  GNU_TIME=/usr/bin/time
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hubmirror-bench.XXXXXX")
up_pid=""
mirror_pid=""

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop "$mirror_pid"
  stop "$up_pid"
  rm -rf -- "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

use_private_binary "$BIN" "$tmp"
note_load

in_memory=0
[[ $(stat -f -c %T -- "$tmp") == tmpfs ]] && in_memory=1
need_mib=$(((in_memory ? 5 : 2 * ROUNDS + 4) * SIZE_MIB))
avail_mib=$(($(df -Pk -- "$tmp" | awk 'NR == 2 { print $4 }') / 1024))
((avail_mib >= need_mib)) ||
  die "needs about $need_mib MiB free under ${TMPDIR:-/tmp}, has $avail_mib MiB (lower ROUNDS or SIZE_MIB, or set TMPDIR)"

alive() { check_alive "upstream hubmirror serve" "$up_pid" "$tmp/upstream.err" "$1"; }

max_of() { awk -v a="$1" -v b="$2" 'BEGIN { print (a > b) ? a : b }'; }

# ---------------------------------------------------------------- source repo
small_names=(config.json generation_config.json tokenizer.json tokenizer_config.json
  special_tokens_map.json vocab.txt merges.txt README.txt)
small_dirs=("" "" "" onnx tokenizer eval/results eval/logs docs)
log "creating the source repo (${SIZE_MIB} MiB: $LARGE_FILES large + $SMALL_FILES small files)"
mkdir -p "$tmp/src"
files=()
small_bytes=0
for ((i = 0; i < SMALL_FILES; i++)); do
  if ((i < ${#small_names[@]})); then
    f=${small_names[i]}
  else
    dir=${small_dirs[i % ${#small_dirs[@]}]}
    ext=$([[ $((i % 3)) -eq 0 ]] && echo txt || echo json)
    f=${dir:+$dir/}part-$(printf '%04d' "$i").$ext
  fi
  mkdir -p "$tmp/src/$(dirname -- "$f")"
  n=$(($(rand_between 4 64) * 1024))
  head -c "$n" /dev/urandom >"$tmp/src/$f"
  files+=("$f")
  small_bytes=$((small_bytes + n))
done
large_each=$(((SIZE_MIB * MIB - small_bytes) / LARGE_FILES))
((large_each > 0)) || die "SIZE_MIB too small for $SMALL_FILES small files"
for ((i = 1; i <= LARGE_FILES; i++)); do
  f=$(printf 'model-%05d-of-%05d.safetensors' "$i" "$LARGE_FILES")
  head -c "$large_each" /dev/urandom >"$tmp/src/$f"
  files+=("$f")
done
total_bytes=$((small_bytes + large_each * LARGE_FILES))
nfiles=${#files[@]}
src_paths=()
for f in "${files[@]}"; do src_paths+=("$tmp/src/$f"); done

source_digests

# ---------------------------------------------------------------- upstream
start_upstream "$REPO"

# Untimed, before each timed command: every input back into the page cache, and
# every dirty page written out.
settle() {
  cat -- "${src_paths[@]}" "${upstream_blobs[@]}" >/dev/null
  command sync
}

# One curl config with every file of the repo, each to /dev/null.
curl_config=$tmp/curl.conf
for f in "${files[@]}"; do
  printf 'url = "%s/%s/resolve/main/%s"\noutput = "/dev/null"\n' "$up_base" "$REPO" "$f"
done >"$curl_config"

# ---------------------------------------------------------------- measurements
# Reference A, curl: ONE curl process with every URL (-K), each to /dev/null,
# run with --parallel --parallel-max 8. A sync may download files in parallel,
# so the reference is the fastest plain HTTP download of the repo, not the
# sequential one (on loopback, parallel streams were measurably faster than one
# keep-alive connection: they overlap the small files' request latency and
# spread the large files over the cores). 8 is huggingface_hub's default
# download concurrency (snapshot_download max_workers).
CURL_PARALLEL=8
run_curl() {  # -> prints seconds; dies if curl fails or the byte count is off
  local t0 t1 got
  settle
  t0=$(now_ns)
  timeout -k 5 "$CMD_TIMEOUT" curl -sS -f --fail-early \
    --parallel --parallel-max "$CURL_PARALLEL" -K "$curl_config" -w '%{size_download}\n' \
    >"$tmp/curl.out" 2>"$tmp/curl.err" ||
    { cat "$tmp/curl.err" >&2; alive "during curl"; die "curl download failed"; }
  t1=$(now_ns)
  got=$(awk '{ s += $1 } END { printf "%.0f", s }' "$tmp/curl.out")
  [[ $got == "$total_bytes" ]] || die "curl downloaded $got bytes, want $total_bytes"
  secs "$t0" "$t1"
}

# Reference B, sha256: ONE openssl process hashing the source files one after
# another, not xargs -P$(nproc). A sync hashes each file's bytes in order as
# they arrive (one file's sha256 cannot be split across cores), and while it
# does, the other cores are busy receiving (and here also serving) the bytes;
# hashing on all cores would assume idle CPUs a sync never has.
run_sha() {
  local t0 t1
  settle
  t0=$(now_ns)
  timeout -k 5 "$CMD_TIMEOUT" openssl dgst -sha256 "${src_paths[@]}" >"$tmp/sha.out" 2>&1 ||
    { cat "$tmp/sha.out" >&2; die "openssl dgst failed"; }
  t1=$(now_ns)
  (($(wc -l <"$tmp/sha.out") == nfiles)) || die "openssl dgst printed $(wc -l <"$tmp/sha.out") lines"
  secs "$t0" "$t1"
}

# Storage floor (informational): copy the source files into a fresh dir and
# fsync each one (sync FILE... = one fsync per file, like the blob store).
run_disk() {  # run_disk ROUND
  local t0 t1 dst=$tmp/disk-copy-$1
  settle
  t0=$(now_ns)
  timeout -k 5 "$CMD_TIMEOUT" cp -R -- "$tmp/src" "$dst" || die "cp of the source files failed"
  (cd -- "$dst" && timeout -k 5 "$CMD_TIMEOUT" sync -- "${files[@]}") || die "fsync of the copies failed"
  t1=$(now_ns)
  ((in_memory)) && rm -rf -- "$dst"
  secs "$t0" "$t1"
}

# The sync into a fresh data dir; sets sync_secs, sync_rss_kib and sync_out.
run_sync() {  # run_sync DATA_DIR
  local data=$1 t0 t1 st=0 pid hwm deadline
  settle
  sync_rss_kib=0
  if [[ -n $GNU_TIME ]]; then
    t0=$(now_ns)
    "$GNU_TIME" -f %M -o "$tmp/sync.rss" timeout -k 5 "$CMD_TIMEOUT" \
      "$HM" sync --data "$data" --upstream "$up_base" "$REPO" >"$tmp/sync.out" 2>"$tmp/sync.err" ||
      st=$?
    t1=$(now_ns)
    # GNU time reports the largest RSS among the process and its waited-for
    # children: that is hubmirror (timeout itself is ~1 MiB).
    sync_rss_kib=$(grep -E '^[0-9]+$' "$tmp/sync.rss" | tail -n1 || true)
  else
    # Fallback: poll VmHWM (the kernel's own peak RSS) every 50 ms while it runs.
    t0=$(now_ns)
    "$HM" sync --data "$data" --upstream "$up_base" "$REPO" >"$tmp/sync.out" 2>"$tmp/sync.err" &
    pid=$!
    deadline=$((SECONDS + CMD_TIMEOUT))
    while kill -0 "$pid" 2>/dev/null; do
      hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
      [[ -n $hwm ]] && ((hwm > sync_rss_kib)) && sync_rss_kib=$hwm
      ((SECONDS < deadline)) || { kill -KILL "$pid" 2>/dev/null || true; break; }
      sleep 0.05
    done
    wait "$pid" || st=$?
    t1=$(now_ns)
  fi
  sync_out=$(cat "$tmp/sync.out")
  if ((st != 0)); then
    cat "$tmp/sync.out" "$tmp/sync.err" >&2 || true
    alive "during the sync"
    ((st == 124 || st == 137)) && die "hubmirror sync timed out after ${CMD_TIMEOUT}s"
    die "hubmirror sync failed (exit status $st)"
  fi
  local want="$REPO@main: mirrored [0-9a-f]+, $nfiles files, downloaded $nfiles \\($total_bytes bytes\\)"
  [[ $sync_out =~ $want ]] ||
    { cat "$tmp/sync.out" "$tmp/sync.err" >&2; die "unexpected sync output (want: $want)"; }
  sync_secs=$(secs "$t0" "$t1")
}

# Warm-up, untimed: one download and one sync (the first write of a GiB into
# the file system is often slower than the following ones).
log "warm-up: one untimed download and one untimed sync of the whole repo"
run_curl >/dev/null
run_sync "$tmp/mirror-warmup"
((in_memory)) && rm -rf -- "$tmp/mirror-warmup"

# Rotate the order each round so no measurement always runs first or last.
order=(sync curl sha disk)
sync_times=() curl_times=() sha_times=() disk_times=()
peak_rss_kib=0
mirror_dir=""
log "$ROUNDS rounds of sync / curl / sha256 / storage (order rotates each round)"
for ((r = 1; r <= ROUNDS; r++)); do
  for ((k = 0; k < ${#order[@]}; k++)); do
    m=${order[(r - 1 + k) % ${#order[@]}]}
    case $m in
      sync)
        ((in_memory)) && [[ -n $mirror_dir ]] && rm -rf -- "$mirror_dir"
        mirror_dir=$tmp/mirror-$r
        run_sync "$mirror_dir"
        sync_times+=("$sync_secs")
        [[ -n $sync_rss_kib ]] && ((sync_rss_kib > peak_rss_kib)) && peak_rss_kib=$sync_rss_kib
        log "  round $r sync:    $sync_secs s, peak RSS $((sync_rss_kib / 1024)) MiB"
        ;;
      curl)
        v=$(run_curl)
        curl_times+=("$v")
        log "  round $r curl:    $v s"
        ;;
      sha)
        v=$(run_sha)
        sha_times+=("$v")
        log "  round $r sha256:  $v s"
        ;;
      disk)
        v=$(run_disk "$r")
        disk_times+=("$v")
        log "  round $r storage: $v s"
        ;;
    esac
    alive "after round $r ($m)"
  done
done

# ---------------------------------------------------------------- correctness
# The last round's mirror serves the source bytes: the first large file, the
# first small file and the last small file (in a subfolder when there is one).
log "verifying the mirror's served bytes (sha256)"
start_serve mirror "$mirror_dir"
mirror_pid=$srv_pid
check=("${files[nfiles - 1]}")
((SMALL_FILES > 0)) && check+=("${files[0]}" "${files[SMALL_FILES - 1]}")
for f in "${check[@]}"; do
  got=$(curl -sSf --max-time 120 "$srv_base/$REPO/resolve/main/$f" | openssl dgst -sha256 -r |
    awk '{print $1}') || true
  [[ $got == "${want_sha[$f]}" ]] || die "mirror serves wrong bytes for $f (sha256 $got, want ${want_sha[$f]})"
done
stop "$mirror_pid"
mirror_pid=""

log "re-syncing the unchanged repo"
resync_ok=1
resync_out=$(timeout -k 5 "$CMD_TIMEOUT" "$HM" sync --data "$mirror_dir" --upstream "$up_base" "$REPO" \
  2>"$tmp/resync.err") || { cat "$tmp/resync.err" >&2; die "second hubmirror sync failed"; }
if [[ $resync_out == *"up to date"* ]]; then
  resync_summary="up to date, 0 bytes downloaded"
else
  resync_ok=0
  resync_bytes=$(grep -oE '\([0-9]+ bytes\)' <<<"$resync_out" | tr -dc '0-9' || true)
  resync_summary="NOT up to date, ${resync_bytes:-?} bytes downloaded ($resync_out)"
fi
alive "at the end"

# ---------------------------------------------------------------- summary
sync_med=$(printf '%s\n' "${sync_times[@]}" | median)
curl_med=$(printf '%s\n' "${curl_times[@]}" | median)
sha_med=$(printf '%s\n' "${sha_times[@]}" | median)
disk_med=$(printf '%s\n' "${disk_times[@]}" | median)
echo
printf 'sync %s GiB (%s large + %s small files), median of %s: sync %s s, curl %s s, sha256 %s s\n' \
  "$(awk -v b="$total_bytes" 'BEGIN { printf "%.2f", b / 1073741824 }')" "$LARGE_FILES" \
  "$SMALL_FILES" "$ROUNDS" "$sync_med" "$curl_med" "$sha_med"
printf 'ratio sync / max(curl, sha256) = %s (target <= 1.2)\n' \
  "$(ratio "$sync_med" "$(max_of "$curl_med" "$sha_med")")"
printf 'storage floor (cp + fsync of the same files, median): %s s; sync / max(curl, sha256, storage) = %s (information)\n' \
  "$disk_med" "$(ratio "$sync_med" "$(max_of "$(max_of "$curl_med" "$sha_med")" "$disk_med")")"
printf 'peak RSS of sync: %s MiB (target < 100 MiB)%s\n' \
  "$(awk -v k="$peak_rss_kib" 'BEGIN { printf "%.1f", k / 1024 }')" \
  "$([[ -n $GNU_TIME ]] || echo ' [VmHWM polled every 50 ms]')"
printf 're-sync of the unchanged repo: %s\n' "$resync_summary"
((resync_ok)) || die "the second sync of an unchanged repo was not up to date"
