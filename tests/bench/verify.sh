#!/usr/bin/env bash
# Verify benchmark: `hubmirror verify` of a ~1 GiB data dir against plain
# `openssl dgst -sha256` hashing the same blob files with the same number of
# processes, measured in the same run.
#
#   tests/bench/verify.sh [HUBMIRROR_BIN]
#
# Binary: $1, else $HUBMIRROR_BIN, else build/hubmirror under the repo root.
# Environment knobs:
#   ROUNDS       rounds of the measurements, order alternating (default 3)
#   SIZE_MIB     total size of the stored blobs in MiB (default 1024)
#   SMALL_FILES  number of small files (default 64; 4-64 KiB each)
#   LARGE_FILES  number of large *.safetensors files sharing the rest (default 4)
#   PROCS        hashing processes / threads on both sides (default: nproc, which
#                is also verify's own default)
#   CMD_TIMEOUT  seconds allowed for each timed command (default 300)
#
# The reference is the plain cost of hashing the stored bytes: the blob files
# under DATA/blobs/sha256/ split round-robin (largest first, so the large files
# spread evenly) over PROCS `openssl dgst -sha256` processes run in parallel,
# timed until the last one ends. `hubmirror verify --threads PROCS` is timed the
# same way (wall clock of the whole command, so its start-up, registry reads and
# state updates count). The ratio the target applies to is the throughput
# ratio verify / openssl, i.e. openssl's time / verify's time.
#
# The blobs come from `hubmirror import`, which records the git blob SHA-1 of
# every file, LFS or not, so verify computes both SHA-256 and SHA-1 of every
# byte here; a synced mirror records no git SHA-1 for LFS content, and verify
# then hashes its large files with SHA-256 only.
#
# Everything runs from the page cache: every blob is read once before the first
# round (and both commands run once, untimed), and the script warns when free
# memory looks too small to hold the blobs. Nothing is written during the rounds
# (verify only rewrites blob states that changed), so no flushing is needed.
#
# Exits non-zero if a command fails or times out, openssl's digests do not match
# the blob names, or verify reports a corrupt or missing blob or other blob
# counts or byte counts than the data dir holds; otherwise it only reports
# figures (the target is printed, not enforced).
set -euo pipefail

script_dir=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd -- "$script_dir/../.." && pwd)

BIN=${1:-${HUBMIRROR_BIN:-$repo_root/build/hubmirror}}
ROUNDS=${ROUNDS:-3}
SIZE_MIB=${SIZE_MIB:-1024}
SMALL_FILES=${SMALL_FILES:-64}
LARGE_FILES=${LARGE_FILES:-4}
PROCS=${PROCS:-$(nproc)}
CMD_TIMEOUT=${CMD_TIMEOUT:-300}
REPO=bench/verify
MIB=1048576

BENCH_NAME=verify.sh
source "$script_dir/lib.sh"

[[ -x $BIN ]] || die "hubmirror binary not found or not executable: $BIN"
BIN=$(cd -- "$(dirname -- "$BIN")" && pwd)/$(basename -- "$BIN")
for tool in openssl timeout awk sort nproc head find; do
  command -v "$tool" >/dev/null || die "$tool not found"
done
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer"
[[ $SIZE_MIB =~ ^[1-9][0-9]*$ ]] || die "SIZE_MIB must be a positive integer"
[[ $SMALL_FILES =~ ^[0-9]+$ ]] || die "SMALL_FILES must be a non-negative integer"
[[ $LARGE_FILES =~ ^[1-9][0-9]*$ ]] || die "LARGE_FILES must be a positive integer"
[[ $PROCS =~ ^[1-9][0-9]*$ ]] || die "PROCS must be a positive integer"
[[ $CMD_TIMEOUT =~ ^[1-9][0-9]*$ ]] || die "CMD_TIMEOUT must be a positive integer"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hubmirror-bench.XXXXXX")
ossl_pids=()

cleanup() {
  local rc=$? pid
  trap - EXIT INT TERM
  for pid in "${ossl_pids[@]}"; do stop "$pid"; done
  rm -rf -- "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

use_private_binary "$BIN" "$tmp"
note_load
note_memory $((2 * SIZE_MIB + 512)) "${SIZE_MIB} MiB of blobs"

# The value of a top-level key in `hubmirror verify --json` output (printed with
# an indent of 2, one key per line).
json_field() { awk -v k="$1" '$0 ~ "^  \"" k "\": " { v = $2; sub(/,$/, "", v); print v; exit }' "$2"; }

# ---------------------------------------------------------------- data dir
make_model_source "$tmp/src"

log "importing into a hubmirror data dir ($REPO)"
data=$tmp/data
timeout -k 5 "$CMD_TIMEOUT" "$HM" import --data "$data" --repo "$REPO" "$tmp/src" >"$tmp/import.log" 2>&1 ||
  { cat "$tmp/import.log" >&2; die "hubmirror import failed"; }
rm -rf -- "$tmp/src"  # only the blobs need the page cache from here on

# The blob files, largest first (ties by name), with their sizes.
find "$data/blobs/sha256" -type f -printf '%s %p\n' | sort -k1,1nr -k2,2 >"$tmp/blobs.list"
blob_paths=()
found_bytes=0
while read -r size path; do
  blob_paths+=("$path")
  found_bytes=$((found_bytes + size))
done <"$tmp/blobs.list"
((${#blob_paths[@]} == nblobs)) ||
  die "the data dir holds ${#blob_paths[@]} blob files, want $nblobs (duplicate random content?)"
((found_bytes == total_bytes)) || die "the blob files hold $found_bytes bytes, want $total_bytes"

# Round-robin split over PROCS lists (NUL-separated, read back with mapfile -d '').
for ((p = 0; p < PROCS; p++)); do : >"$tmp/part.$p"; done
for ((k = 0; k < nblobs; k++)); do
  printf '%s\0' "${blob_paths[k]}" >>"$tmp/part.$((k % PROCS))"
done

# Into the page cache, untimed.
log "reading every blob once into the page cache"
cat -- "${blob_paths[@]}" >/dev/null
if command -v fincore >/dev/null 2>&1; then
  cached=$(fincore -b -n -o RES -- "${blob_paths[@]}" 2>/dev/null | awk '{ s += $1 } END { printf "%.0f", s }')
  # (RES counts whole pages, so a fully cached file shows at least its size.)
  [[ -n $cached ]] && ((cached < total_bytes)) &&
    log "note: only $cached of $total_bytes blob bytes are in the page cache"
fi

# ---------------------------------------------------------------- measurements
# Reference: PROCS openssl processes in parallel, one per round-robin share of
# the blob files; the time until the last one is done. Every digest printed has
# to be the blob's own name (blobs are stored under their sha256).
run_openssl() {  # sets ossl_secs
  local t0 t1 p st=0 bad files=()
  ossl_pids=()
  rm -f -- "$tmp"/ossl.*.out
  t0=$(now_ns)
  for ((p = 0; p < PROCS; p++)); do
    mapfile -d '' -t files <"$tmp/part.$p"
    ((${#files[@]} > 0)) || continue
    timeout -k 5 "$CMD_TIMEOUT" openssl dgst -sha256 -r -- "${files[@]}" >"$tmp/ossl.$p.out" 2>&1 &
    ossl_pids+=($!)
  done
  for p in "${ossl_pids[@]}"; do wait "$p" || st=$?; done
  t1=$(now_ns)
  ossl_pids=()
  if ((st != 0)); then
    cat "$tmp"/ossl.*.out >&2 || true
    ((st == 124 || st == 137)) && die "openssl dgst timed out after ${CMD_TIMEOUT}s"
    die "openssl dgst failed (exit status $st)"
  fi
  bad=$(cat "$tmp"/ossl.*.out | awk -v want="$nblobs" '{
      path = $2; sub(/^\*/, "", path); n = split(path, part, "/")
      if ($1 != part[n]) bad++
      lines++
    } END { if (lines != want) print lines + 0 " lines, want " want; else if (bad) print bad " digests differ" }')
  [[ -z $bad ]] || die "openssl dgst output does not match the blob names ($bad)"
  ossl_secs=$(secs "$t0" "$t1")
}

# hubmirror verify of the whole data dir; sets verify_secs, verify_own_secs and
# verify_own_bps (its own report of the hashing time and throughput).
run_verify() {
  local t0 t1 st=0 blobs bytes corrupt missing
  t0=$(now_ns)
  timeout -k 5 "$CMD_TIMEOUT" "$HM" verify --data "$data" --threads "$PROCS" --json \
    >"$tmp/verify.out" 2>"$tmp/verify.err" || st=$?
  t1=$(now_ns)
  if ((st != 0)); then
    cat "$tmp/verify.out" "$tmp/verify.err" >&2 || true
    ((st == 124 || st == 137)) && die "hubmirror verify timed out after ${CMD_TIMEOUT}s"
    die "hubmirror verify failed (exit status $st)"
  fi
  blobs=$(json_field blobs "$tmp/verify.out")
  bytes=$(json_field bytes "$tmp/verify.out")
  corrupt=$(json_field corrupt "$tmp/verify.out")
  missing=$(json_field missing "$tmp/verify.out")
  verify_own_secs=$(json_field seconds "$tmp/verify.out")
  verify_own_bps=$(json_field bytes_per_second "$tmp/verify.out")
  if [[ $blobs != "$nblobs" || $bytes != "$total_bytes" || $corrupt != 0 || $missing != 0 ||
    -z $verify_own_secs || -z $verify_own_bps ]]; then
    cat "$tmp/verify.out" "$tmp/verify.err" >&2 || true
    die "unexpected verify report: blobs=$blobs bytes=$bytes corrupt=$corrupt missing=$missing" \
      "(want blobs=$nblobs bytes=$total_bytes corrupt=0 missing=0)"
  fi
  verify_secs=$(secs "$t0" "$t1")
}

# Warm-up, untimed: one run of each (first runs pay for loading the binaries and
# libraries, and checks both commands' output before any timing).
log "warm-up: one untimed verify and one untimed openssl run"
run_verify
run_openssl

# Alternate the order each round so neither always runs first.
verify_times=() ossl_times=() own_times=()
log "$ROUNDS rounds of verify / openssl with $PROCS processes (order alternates each round)"
for ((r = 1; r <= ROUNDS; r++)); do
  if ((r % 2)); then order=(verify openssl); else order=(openssl verify); fi
  for m in "${order[@]}"; do
    case $m in
      verify)
        run_verify
        verify_times+=("$verify_secs")
        own_times+=("$verify_own_secs")
        log "  round $r verify:  $verify_secs s (its own report: $(awk -v s="$verify_own_secs" \
          'BEGIN { printf "%.3f", s }') s, $(awk -v b="$verify_own_bps" 'BEGIN { printf "%.1f", b / 1048576 }') MiB/s)"
        ;;
      openssl)
        run_openssl
        ossl_times+=("$ossl_secs")
        log "  round $r openssl: $ossl_secs s"
        ;;
    esac
  done
done

# ---------------------------------------------------------------- summary
verify_med=$(printf '%s\n' "${verify_times[@]}" | median 3)
ossl_med=$(printf '%s\n' "${ossl_times[@]}" | median 3)
own_med=$(printf '%s\n' "${own_times[@]}" | median 3)
verify_rate=$(mib_per_s "$total_bytes" "$verify_med")
ossl_rate=$(mib_per_s "$total_bytes" "$ossl_med")
echo
printf 'verify %s GiB in %s blobs with %s processes: hubmirror verify %s s (%s MiB/s), openssl dgst -sha256 %s s (%s MiB/s); ratio R1/R2 = %s (target >= 0.8)\n' \
  "$(awk -v b="$total_bytes" 'BEGIN { printf "%.2f", b / 1073741824 }')" "$nblobs" "$PROCS" \
  "$verify_med" "$verify_rate" "$ossl_med" "$ossl_rate" "$(ratio "$ossl_med" "$verify_med")"
printf 'medians of %s rounds; verify'"'"'s own timing (listing the blobs to recording their states, without process start-up): %s s (%s MiB/s) (information)\n' \
  "$ROUNDS" "$own_med" "$(mib_per_s "$total_bytes" "$own_med")"
