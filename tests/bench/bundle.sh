#!/usr/bin/env bash
# Bundle benchmark: `hubmirror export` and `hubmirror import-bundle` of a ~1 GiB
# data dir, each against a plain copy of the same blob files measured in the
# same run.
#
#   tests/bench/bundle.sh [HUBMIRROR_BIN]
#
# Binary: $1, else $HUBMIRROR_BIN, else build/hubmirror under the repo root.
# Environment knobs:
#   ROUNDS       rounds of the measurements, order alternating (default 3)
#   SIZE_MIB     total size of the exported blobs in MiB (default 1024)
#   SMALL_FILES  number of small files (default 64; 4-64 KiB each)
#   LARGE_FILES  number of large *.safetensors files sharing the rest (default 4)
#   VOLUME_SIZE  export --volume-size (default 256M, so the stream is cut in
#                volumes and large blobs span two of them)
#   CMD_TIMEOUT  seconds allowed for each timed command (default 300)
#
# Phases and their references:
#   export  `hubmirror export --all` into a fresh bundle directory: reads every
#           blob, writes the volumes, fsyncs each, signs bundle.json.
#           Reference "cp": `cp` of the same blob files into a fresh directory,
#           then `sync FILE...` (one fsync per file).
#   import  `hubmirror import-bundle` of that bundle into a fresh data dir:
#           checks the signature, reads the volumes, hashes every blob (SHA-256,
#           and git SHA-1 for the non-LFS ones) as it writes it, fsyncs and
#           renames it into the store, then publishes the revision.
#           Reference "cp + sha256sum": the same cp + fsync as above, then one
#           `sha256sum` process over the copies (the import hashes on one
#           thread, blob after blob). The fsync is in the reference because the
#           import makes every blob durable before it publishes.
# Ratios are throughputs, hubmirror / reference (1.00 = as fast as the plain
# tools; higher is better). Each command is timed by wall clock, so hubmirror's
# start-up, registry work and signing count.
#
# Everything reads from the page cache: every blob is read once before the first
# round, and dirty pages are flushed (sync(1), untimed) before every timed
# command, so no measurement pays for another's writeback. Each round writes
# into fresh directories (the previous ones are removed, untimed).
#
# Exits non-zero if a command fails or times out, the export or the import
# reports other counts than the data dir holds, sha256sum's digests do not match
# the blob names, the imported data dir fails `hubmirror verify`, or importing
# the bundle again is not a no-op; otherwise it only reports figures.
set -euo pipefail

script_dir=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd -- "$script_dir/../.." && pwd)

BIN=${1:-${HUBMIRROR_BIN:-$repo_root/build/hubmirror}}
ROUNDS=${ROUNDS:-3}
SIZE_MIB=${SIZE_MIB:-1024}
SMALL_FILES=${SMALL_FILES:-64}
LARGE_FILES=${LARGE_FILES:-4}
VOLUME_SIZE=${VOLUME_SIZE:-256M}
CMD_TIMEOUT=${CMD_TIMEOUT:-300}
REPO=bench/bundle
MIB=1048576

BENCH_NAME=bundle.sh
source "$script_dir/lib.sh"

[[ -x $BIN ]] || die "hubmirror binary not found or not executable: $BIN"
BIN=$(cd -- "$(dirname -- "$BIN")" && pwd)/$(basename -- "$BIN")
for tool in curl sha256sum timeout awk sort head find cp sync; do
  command -v "$tool" >/dev/null || die "$tool not found"
done
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer"
[[ $SIZE_MIB =~ ^[1-9][0-9]*$ ]] || die "SIZE_MIB must be a positive integer"
[[ $SMALL_FILES =~ ^[0-9]+$ ]] || die "SMALL_FILES must be a non-negative integer"
[[ $LARGE_FILES =~ ^[1-9][0-9]*$ ]] || die "LARGE_FILES must be a positive integer"
[[ $VOLUME_SIZE =~ ^[1-9][0-9]*[KMG]?$ ]] || die "VOLUME_SIZE must be a size such as 256M or 1G"
[[ $CMD_TIMEOUT =~ ^[1-9][0-9]*$ ]] || die "CMD_TIMEOUT must be a positive integer"
# Peak RSS (information): GNU time's %M when available.
GNU_TIME=""
if [[ -x /usr/bin/time ]] && /usr/bin/time -f %M -o /dev/null true 2>/dev/null; then
  GNU_TIME=/usr/bin/time
fi

start_bench_dir

use_private_binary "$BIN" "$tmp"
note_load
note_memory $((4 * SIZE_MIB + 512)) "${SIZE_MIB} MiB of blobs, a bundle and two copies"


# ---------------------------------------------------------------- outer data dir
make_model_source "$tmp/src"

log "importing into the outer data dir ($REPO)"
outer=$tmp/outer
timeout -k 5 "$CMD_TIMEOUT" "$HM" import --data "$outer" --repo "$REPO" "$tmp/src" >"$tmp/import.log" 2>&1 ||
  { cat "$tmp/import.log" >&2; die "hubmirror import failed"; }
rm -rf -- "$tmp/src"

# The outer instance's public key, as an operator gets it: from its server.
log "fetching the outer instance's public key from /api/integrity/key"
start_serve serve "$outer"
base=$srv_base
curl -sSf --max-time 30 "$base/api/integrity/key" >"$tmp/outer.pem" || die "cannot fetch $base/api/integrity/key"
stop "$srv_pid"
srv_pid=""

# The blob files, with their sizes.
blob_paths=()
found_bytes=0
while read -r size path; do
  blob_paths+=("$path")
  found_bytes=$((found_bytes + size))
done < <(find "$outer/blobs/sha256" -type f -printf '%s %p\n' | sort -k1,1nr -k2,2)
((${#blob_paths[@]} == nblobs)) ||
  die "the data dir holds ${#blob_paths[@]} blob files, want $nblobs (duplicate random content?)"
((found_bytes == total_bytes)) || die "the blob files hold $found_bytes bytes, want $total_bytes"

log "reading every blob once into the page cache"
cat -- "${blob_paths[@]}" >/dev/null

# ---------------------------------------------------------------- measurements
# Each run_* removes its previous output (untimed), flushes dirty pages
# (untimed), then times one command; they set *_secs (and *_rss_kib).

timed() {  # timed NAME OUT ERR CMD...: runs CMD with a timeout; sets timed_secs, timed_rss_kib
  local name=$1 out=$2 err=$3 t0 t1 st=0
  shift 3
  timed_rss_kib=0
  command sync
  t0=$(now_ns)
  if [[ -n $GNU_TIME ]]; then
    "$GNU_TIME" -f %M -o "$tmp/$name.rss" timeout -k 5 "$CMD_TIMEOUT" "$@" >"$out" 2>"$err" || st=$?
  else
    timeout -k 5 "$CMD_TIMEOUT" "$@" >"$out" 2>"$err" || st=$?
  fi
  t1=$(now_ns)
  if ((st != 0)); then
    cat "$out" "$err" >&2 || true
    ((st == 124 || st == 137)) && die "$name timed out after ${CMD_TIMEOUT}s"
    die "$name failed (exit status $st)"
  fi
  [[ -n $GNU_TIME ]] && timed_rss_kib=$(grep -E '^[0-9]+$' "$tmp/$name.rss" | tail -n1 || echo 0)
  timed_secs=$(secs "$t0" "$t1")
}

bundle=$tmp/bundle
run_export() {
  rm -rf -- "$bundle"
  timed "hubmirror export" "$tmp/export.out" "$tmp/export.err" \
    "$HM" export --data "$outer" --out "$bundle" --all --volume-size "$VOLUME_SIZE"
  local want="^exported 1 repos, 1 commits, $nblobs blobs \\($total_bytes bytes\\) in ([0-9]+) volumes to "
  [[ $(cat "$tmp/export.out") =~ $want ]] ||
    { cat "$tmp/export.out" "$tmp/export.err" >&2; die "unexpected export output (want: $want)"; }
  volumes=${BASH_REMATCH[1]}
  export_secs=$timed_secs
  export_rss_kib=$timed_rss_kib
}

inner=$tmp/inner
run_import() {
  rm -rf -- "$inner"
  timed "hubmirror import-bundle" "$tmp/import.out" "$tmp/import.err" \
    "$HM" import-bundle --data "$inner" "$bundle" --trusted-key "$tmp/outer.pem"
  local want="\\(trusted\\): 1 repos, 1 commits \\(1 published or moved\\), $nblobs new blobs \\($total_bytes bytes\\), 0 blobs already here"
  [[ $(cat "$tmp/import.out") =~ $want ]] ||
    { cat "$tmp/import.out" "$tmp/import.err" >&2; die "unexpected import output (want: $want)"; }
  import_secs=$timed_secs
  import_rss_kib=$timed_rss_kib
}

copy_dir=$tmp/copy
copy_and_fsync() {  # the blob files into a fresh directory, one fsync per file
  mkdir -p -- "$copy_dir"
  cp -- "${blob_paths[@]}" "$copy_dir/"
  cd -- "$copy_dir" && sync -- *
}

run_cp() {
  rm -rf -- "$copy_dir"
  timed "cp" "$tmp/cp.out" "$tmp/cp.err" bash -c "$(declare -p blob_paths copy_dir); $(declare -f copy_and_fsync); copy_and_fsync"
  cp_secs=$timed_secs
}

run_cp_sha() {
  rm -rf -- "$copy_dir"
  timed "cp + sha256sum" "$tmp/cpsha.out" "$tmp/cpsha.err" bash -c \
    "$(declare -p blob_paths copy_dir); $(declare -f copy_and_fsync); copy_and_fsync && sha256sum -- *"
  local bad
  bad=$(awk -v want="$nblobs" '{ path = $2; sub(/^\*/, "", path); if ($1 != path) bad++; lines++ }
    END { if (lines != want) print lines + 0 " lines, want " want; else if (bad) print bad " digests differ" }' "$tmp/cpsha.out")
  [[ -z $bad ]] || die "sha256sum output does not match the blob names ($bad)"
  cp_sha_secs=$timed_secs
}

# Warm-up, untimed: one run of each (first runs pay for loading the binaries,
# and the first write of a GiB into the file system is often slower).
log "warm-up: one untimed run of each"
run_export
run_import
run_cp
run_cp_sha

export_times=() import_times=() cp_times=() cp_sha_times=()
peak_export_kib=0 peak_import_kib=0
log "$ROUNDS rounds of export / cp and import / cp + sha256sum (order alternates each round)"
for ((r = 1; r <= ROUNDS; r++)); do
  if ((r % 2)); then order=(export cp import cp_sha); else order=(cp export cp_sha import); fi
  for m in "${order[@]}"; do
    case $m in
      export)
        run_export
        export_times+=("$export_secs")
        ((export_rss_kib > peak_export_kib)) && peak_export_kib=$export_rss_kib
        log "  round $r export:           $export_secs s ($volumes volumes)"
        ;;
      cp)
        run_cp
        cp_times+=("$cp_secs")
        log "  round $r cp:               $cp_secs s"
        ;;
      import)
        run_import
        import_times+=("$import_secs")
        ((import_rss_kib > peak_import_kib)) && peak_import_kib=$import_rss_kib
        log "  round $r import:           $import_secs s"
        ;;
      cp_sha)
        run_cp_sha
        cp_sha_times+=("$cp_sha_secs")
        log "  round $r cp + sha256sum:   $cp_sha_secs s"
        ;;
    esac
  done
done
rm -rf -- "$copy_dir"

# ---------------------------------------------------------------- correctness
log "verifying the imported data dir, and importing the bundle again"
timeout -k 5 "$CMD_TIMEOUT" "$HM" verify --data "$inner" >"$tmp/verify.out" 2>"$tmp/verify.err" ||
  { cat "$tmp/verify.out" "$tmp/verify.err" >&2; die "hubmirror verify of the imported data dir failed"; }
grep -q "^verified $nblobs blobs ($total_bytes bytes) .*: 0 corrupt, 0 missing$" "$tmp/verify.out" ||
  { cat "$tmp/verify.out" >&2; die "unexpected verify report of the imported data dir"; }
again=$(timeout -k 5 "$CMD_TIMEOUT" "$HM" import-bundle --data "$inner" "$bundle" --trusted-key "$tmp/outer.pem" 2>&1) ||
  { echo "$again" >&2; die "importing the bundle again failed"; }
[[ $again == *"(0 published or moved), 0 new blobs (0 bytes), $nblobs blobs already here"* ]] ||
  die "importing the bundle again was not a no-op: $again"

# ---------------------------------------------------------------- summary
export_med=$(printf '%s\n' "${export_times[@]}" | median 3)
import_med=$(printf '%s\n' "${import_times[@]}" | median 3)
cp_med=$(printf '%s\n' "${cp_times[@]}" | median 3)
cp_sha_med=$(printf '%s\n' "${cp_sha_times[@]}" | median 3)
export_rate=$(mib_per_s "$total_bytes" "$export_med")
import_rate=$(mib_per_s "$total_bytes" "$import_med")
cp_rate=$(mib_per_s "$total_bytes" "$cp_med")
cp_sha_rate=$(mib_per_s "$total_bytes" "$cp_sha_med")
echo
printf 'bundle of %s GiB in %s blobs, %s volumes of %s; medians of %s rounds\n' \
  "$(awk -v b="$total_bytes" 'BEGIN { printf "%.2f", b / 1073741824 }')" "$nblobs" "$volumes" "$VOLUME_SIZE" "$ROUNDS"
printf 'export: %s MiB/s (%s s), cp: %s MiB/s (%s s), ratio %s\n' \
  "$export_rate" "$export_med" "$cp_rate" "$cp_med" "$(ratio "$cp_med" "$export_med")"
printf 'import: %s MiB/s (%s s), cp + sha256sum: %s MiB/s (%s s), ratio %s\n' \
  "$import_rate" "$import_med" "$cp_sha_rate" "$cp_sha_med" "$(ratio "$cp_sha_med" "$import_med")"
if [[ -n $GNU_TIME ]]; then
  printf 'peak RSS: export %s MiB, import-bundle %s MiB (information)\n' \
    "$((peak_export_kib / 1024))" "$((peak_import_kib / 1024))"
fi
