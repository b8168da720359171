#!/usr/bin/env bash
# Object-storage benchmark: `hubmirror sync` of a ~1 GiB repo into a bucket of a real Ceph RADOS
# Gateway against curl PUTs of the same bytes to the same gateway, and serving a 256 MiB file kept
# in that bucket (streamed by hubmirror, cold and warm, and redirected to the gateway) against a
# plain GET of its object from the gateway; the sync's and the servers' peak RSS.
#
#   tests/bench/s3.sh [HUBMIRROR_BIN]
#
# Binary: $1, else $HUBMIRROR_BIN, else build/hubmirror under the repo root.
# Environment knobs:
#   ROUNDS       rounds of each measurement, order rotating (default 3)
#   SIZE_MIB     total size of the synced repo in MiB (default 1024)
#   LARGE_FILES  number of *.safetensors files sharing it (default 4)
#   SERVE_MIB    size of the served file in MiB (default 256)
#   CMD_TIMEOUT  seconds allowed for each timed command (default 300)
#
# The script starts its own gateway (tests/support/ceph_rgw.sh, which needs Debian's ceph-mon,
# ceph-osd, radosgw and ceph-common) under its temporary directory, makes one bucket, and stops the
# gateway by PID when it ends. hubmirror gets the gateway's keys from AWS_ACCESS_KEY_ID and
# AWS_SECRET_ACCESS_KEY only, curl from a config file readable by its owner only (not its command
# line, which `ps` shows); neither is ever printed, and the script fails if hubmirror printed one.
#
# sync   the upstream is a local `hubmirror serve` of the repo (local storage). Each round, into a
#        fresh data dir and a fresh key prefix: `hubmirror sync --config` with [storage] backend =
#        "s3" and --concurrency 4 (its default, written out so that both sides keep the same).
#        It downloads, hashes and stores every byte locally, then PUTs it to the bucket (in parts
#        of 16 MiB). Reference, in the same round: ONE curl process PUTting the same files to the
#        same gateway under another fresh prefix, 4 at once (--parallel --parallel-max 4), each
#        file in one PUT (UNSIGNED-PAYLOAD: curl hashes nothing). Figure: sync / PUT, the median
#        of the rounds' times; the sync's peak RSS (GNU time's %M, else VmHWM polled).
# serve  SERVE_MIB MiB in one LFS file, imported with --config into the bucket; two servers on
#        that data dir, one with serve = "stream", one with serve = "redirect". Each round, one
#        curl GET of the whole file to /dev/null per case:
#          stream-cold  through the streaming server with its local copy deleted first (untimed):
#                       it fetches the object from the bucket, hashes it and sends it;
#          stream-warm  through the streaming server, from its local copy;
#          redirect     through the redirecting server, `curl -L`: a 302 to a presigned URL of
#                       the object, then the gateway sends it;
#          gateway      the reference: a signed GET of the object straight from the gateway.
#        Figures: gateway time / each case's time, medians of ROUNDS (>= 1.0: as fast as the
#        gateway itself); each server's VmHWM (the kernel's own peak RSS) before it is stopped.
# Before each timed command, untimed: its local inputs back into the page cache, dirty pages
# written out. One untimed sync and one untimed PUT come first (the first GiB written into a new
# store is often slower). Objects and data dirs are kept until the end (see sync.sh on deleting
# just before a timed command); the bucket takes about 2 * (ROUNDS + 1) * SIZE_MIB + SERVE_MIB MiB
# of the gateway's 20 GiB store, which the script checks.
#
# Exits non-zero if the gateway or a server fails to start, a command fails or times out, a byte
# count is off, the sync reports other files or bytes than the source has, an object or a download
# has other bytes than the source (sha256, checked once per case, untimed), the redirecting server
# does not redirect, or a secret key appears in hubmirror's output; otherwise it only reports
# figures (targets are printed, not enforced).
set -euo pipefail

script_dir=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd -- "$script_dir/../.." && pwd)

BIN=${1:-${HUBMIRROR_BIN:-$repo_root/build/hubmirror}}
ROUNDS=${ROUNDS:-3}
SIZE_MIB=${SIZE_MIB:-1024}
LARGE_FILES=${LARGE_FILES:-4}
SERVE_MIB=${SERVE_MIB:-256}
CMD_TIMEOUT=${CMD_TIMEOUT:-300}
SMALL_FILES=0  # make_model_source: large files only
CONCURRENCY=4  # `hubmirror sync`'s default --concurrency
REPO=bench/s3-model
SERVE_REPO=bench/s3-serve
SERVE_FILE=model.safetensors
BUCKET=hubmirror-bench
RGW=$repo_root/tests/support/ceph_rgw.sh
# ceph_rgw.sh gives bluestore a 20 GiB file; what the run puts in the bucket stays well under its
# near-full mark (85 %).
GATEWAY_MAX_MIB=16384

BENCH_NAME=s3.sh
source "$script_dir/lib.sh"

[[ -x $BIN ]] || die "hubmirror binary not found or not executable: $BIN"
BIN=$(cd -- "$(dirname -- "$BIN")" && pwd)/$(basename -- "$BIN")
for tool in curl openssl timeout awk sort head python3 uuidgen ceph-mon ceph-osd radosgw \
  radosgw-admin ceph-authtool; do
  command -v "$tool" >/dev/null || die "$tool not found (the gateway needs Debian's ceph-mon," \
    "ceph-osd, radosgw, ceph-common and uuid-runtime: deploy/install-deps.sh)"
done
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer"
[[ $SIZE_MIB =~ ^[1-9][0-9]*$ ]] || die "SIZE_MIB must be a positive integer"
[[ $LARGE_FILES =~ ^[1-9][0-9]*$ ]] || die "LARGE_FILES must be a positive integer"
[[ $SERVE_MIB =~ ^[1-9][0-9]*$ ]] || die "SERVE_MIB must be a positive integer"
[[ $CMD_TIMEOUT =~ ^[1-9][0-9]*$ ]] || die "CMD_TIMEOUT must be a positive integer"
gateway_mib=$((2 * (ROUNDS + 1) * SIZE_MIB + SERVE_MIB))
((gateway_mib <= GATEWAY_MAX_MIB)) ||
  die "the bucket would take about $gateway_mib MiB, more than the gateway's store holds safely ($GATEWAY_MAX_MIB MiB): lower ROUNDS or SIZE_MIB"
# Peak RSS: GNU time's %M when available, else polling /proc/PID/status.
GNU_TIME=""
if [[ -x /usr/bin/time ]] && /usr/bin/time -f %M -o /dev/null true 2>/dev/null; then
  GNU_TIME=/usr/bin/time
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hubmirror-bench.XXXXXX")
up_pid=""
stream_pid=""
redirect_pid=""
rgw_started=0

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop "$stream_pid"
  stop "$redirect_pid"
  stop "$up_pid"
  # By the PIDs ceph_rgw.sh recorded; the daemons must be gone before their files are removed.
  ((rgw_started == 0)) || "$RGW" stop "$tmp/rgw" >/dev/null 2>&1 || true
  rm -rf -- "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

use_private_binary "$BIN" "$tmp"
note_load
note_memory $((2 * SIZE_MIB)) "the source files and the upstream's blobs"

# The source and the upstream's blobs; each sync's local copies; the gateway's store; the served
# file, its local copy and its object.
need_mib=$(((ROUNDS + 3) * SIZE_MIB + gateway_mib + 2 * SERVE_MIB))
avail_mib=$(($(df -Pk -- "$tmp" | awk 'NR == 2 { print $4 }') / 1024))
((avail_mib >= need_mib)) ||
  die "needs about $need_mib MiB free under ${TMPDIR:-/tmp}, has $avail_mib MiB (lower ROUNDS or SIZE_MIB, or set TMPDIR)"

alive() {  # alive WHEN
  [[ -z $up_pid ]] || check_alive "upstream hubmirror serve" "$up_pid" "$tmp/upstream.err" "$1"
  [[ -z $stream_pid ]] || check_alive "streaming hubmirror serve" "$stream_pid" "$tmp/stream.err" "$1"
  [[ -z $redirect_pid ]] || check_alive "redirecting hubmirror serve" "$redirect_pid" "$tmp/redirect.err" "$1"
}

mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }  # mib KIB -> MiB, one decimal

# ---------------------------------------------------------------- gateway and bucket
log "starting a Ceph RADOS Gateway"
rgw_started=1
rgw_out=$("$RGW" start "$tmp/rgw" 2>"$tmp/rgw-start.err") ||
  { cat "$tmp/rgw-start.err" >&2; tail -n 20 "$tmp/rgw/log/setup.log" >&2 2>/dev/null || true
    die "the gateway did not start"; }
s3_endpoint="" s3_key="" s3_secret=""
while IFS= read -r line; do
  case $line in
    S3_ENDPOINT=*) s3_endpoint=${line#*=} ;;
    S3_ACCESS_KEY=*) s3_key=${line#*=} ;;
    S3_SECRET_KEY=*) s3_secret=${line#*=} ;;
  esac
done <<<"$rgw_out"
[[ -n $s3_endpoint && -n $s3_key && -n $s3_secret ]] || die "ceph_rgw.sh start printed no endpoint and keys"
export AWS_ACCESS_KEY_ID=$s3_key AWS_SECRET_ACCESS_KEY=$s3_secret

# Every request curl signs (curl 7.88 does not send x-amz-content-sha256 itself, and RGW refuses
# a signature without it).
s3_curlrc=$tmp/s3.curlrc
(umask 077 && printf 'aws-sigv4 = "aws:amz:us-east-1:s3"\nuser = "%s:%s"\nheader = "x-amz-content-sha256: UNSIGNED-PAYLOAD"\n' \
  "$s3_key" "$s3_secret" >"$s3_curlrc")
s3_curl() { curl -K "$s3_curlrc" "$@"; }

code=$(s3_curl -sS -o "$tmp/bucket.out" -w '%{http_code}' -X PUT "$s3_endpoint/$BUCKET") || code=000
[[ $code == 200 ]] || { cat "$tmp/bucket.out" >&2 2>/dev/null || true; die "creating bucket $BUCKET: HTTP $code"; }

storage_config() {  # storage_config PREFIX SERVE > a config naming the bucket; never a credential
  printf '[storage]\nbackend = "s3"\ns3_endpoint = "%s"\ns3_bucket = "%s"\ns3_region = "us-east-1"\n' \
    "$s3_endpoint" "$BUCKET"
  printf 's3_addressing = "path"\ns3_prefix = "%s"\nserve = "%s"\n' "$1" "$2"
}

# sha256 of what a signed GET of KEY from the gateway returns
object_sha() { s3_curl -sS -f --max-time 120 "$s3_endpoint/$BUCKET/$1" | openssl dgst -sha256 -r | awk '{ print $1 }'; }

# ---------------------------------------------------------------- source repo and upstream
make_model_source "$tmp/src"
mapfile -t files < <(cd -- "$tmp/src" && find . -type f -printf '%P\n' | sort)
nfiles=${#files[@]}
((nfiles == nblobs)) || die "the source folder has $nfiles files, want $nblobs"
src_paths=()
for f in "${files[@]}"; do src_paths+=("$tmp/src/$f"); done
source_digests
start_upstream "$REPO"  # local storage

# Untimed, before each timed command of the sync part: the source and the upstream's blobs back
# into the page cache, dirty pages written out.
settle() {
  cat -- "${src_paths[@]}" "${upstream_blobs[@]}" >/dev/null
  command sync
}

# ---------------------------------------------------------------- sync and PUT
# The sync into DATA_DIR with its objects under PREFIX; sets sync_secs and sync_rss_kib.
run_sync() {  # run_sync DATA_DIR PREFIX
  local data=$1 config=$tmp/$2.toml t0 t1 st=0 pid hwm deadline out
  storage_config "$2" stream >"$config"
  settle
  sync_rss_kib=0
  if [[ -n $GNU_TIME ]]; then
    t0=$(now_ns)
    "$GNU_TIME" -f %M -o "$tmp/sync.rss" timeout -k 5 "$CMD_TIMEOUT" \
      "$HM" sync --config "$config" --data "$data" --upstream "$up_base" --concurrency "$CONCURRENCY" \
      "$REPO" >"$tmp/sync.out" 2>"$tmp/sync.err" || st=$?
    t1=$(now_ns)
    # The largest RSS among the process and its waited-for children: hubmirror's.
    sync_rss_kib=$(grep -E '^[0-9]+$' "$tmp/sync.rss" | tail -n1 || true)
  else
    t0=$(now_ns)
    "$HM" sync --config "$config" --data "$data" --upstream "$up_base" --concurrency "$CONCURRENCY" \
      "$REPO" >"$tmp/sync.out" 2>"$tmp/sync.err" &
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
  cat "$tmp/sync.out" "$tmp/sync.err" >>"$tmp/hubmirror-output.log"
  if ((st != 0)); then
    cat "$tmp/sync.out" "$tmp/sync.err" >&2 || true
    alive "during the sync"
    ((st == 124 || st == 137)) && die "hubmirror sync timed out after ${CMD_TIMEOUT}s"
    die "hubmirror sync failed (exit status $st)"
  fi
  out=$(cat "$tmp/sync.out")
  local want="$REPO@main: mirrored [0-9a-f]+, $nfiles files, downloaded $nfiles \\($total_bytes bytes\\)"
  [[ $out =~ $want ]] || { cat "$tmp/sync.out" "$tmp/sync.err" >&2; die "unexpected sync output (want: $want)"; }
  sync_secs=$(secs "$t0" "$t1")
}

# The reference: ONE curl PUTting every source file under PREFIX, CONCURRENCY at once; prints the
# seconds. Dies if a PUT fails or the byte count is off.
run_put() {  # run_put PREFIX
  local f t0 t1 got
  for f in "${files[@]}"; do
    printf 'upload-file = "%s"\nurl = "%s/%s/%s/%s"\noutput = "/dev/null"\n' \
      "$tmp/src/$f" "$s3_endpoint" "$BUCKET" "$1" "$f"
  done >"$tmp/put.curlrc"
  settle
  t0=$(now_ns)
  timeout -k 5 "$CMD_TIMEOUT" curl -K "$s3_curlrc" -sS -f --fail-early \
    --parallel --parallel-max "$CONCURRENCY" -K "$tmp/put.curlrc" -w '%{http_code} %{size_upload}\n' \
    >"$tmp/put.out" 2>"$tmp/put.err" || { cat "$tmp/put.err" >&2; die "curl PUT to the gateway failed"; }
  t1=$(now_ns)
  got=$(awk '$1 == 200 { n++; s += $2 } END { printf "%d %.0f", n, s }' "$tmp/put.out")
  [[ $got == "$nfiles $total_bytes" ]] ||
    die "curl PUT: $got (answers 200, bytes sent), want $nfiles $total_bytes"
  secs "$t0" "$t1"
}

log "warm-up: one untimed sync and one untimed PUT of the whole repo"
run_sync "$tmp/sync-warmup" sync-warmup
run_put put-warmup >/dev/null

order=(sync put)
sync_times=() put_times=()
peak_sync_kib=0
log "$ROUNDS rounds of sync / PUT (order alternating), each into a fresh data dir and prefix"
for ((r = 1; r <= ROUNDS; r++)); do
  for ((k = 0; k < ${#order[@]}; k++)); do
    m=${order[(r - 1 + k) % ${#order[@]}]}
    if [[ $m == sync ]]; then
      run_sync "$tmp/sync-$r" "sync-$r"
      sync_times+=("$sync_secs")
      [[ -n $sync_rss_kib ]] && ((sync_rss_kib > peak_sync_kib)) && peak_sync_kib=$sync_rss_kib
      log "  round $r sync: $sync_secs s ($(mib_per_s "$total_bytes" "$sync_secs") MiB/s), peak RSS $(mib "$sync_rss_kib") MiB"
    else
      v=$(run_put "put-$r")
      put_times+=("$v")
      log "  round $r PUT:  $v s ($(mib_per_s "$total_bytes" "$v") MiB/s)"
    fi
    alive "after round $r ($m)"
  done
done

# The last round's objects, read back from the gateway: each file's bytes under its sha256.
log "verifying the objects the last sync stored (sha256)"
for f in "${files[@]}"; do
  got=$(object_sha "sync-$ROUNDS/blobs/${want_sha[$f]}") || true
  [[ $got == "${want_sha[$f]}" ]] ||
    die "the bucket holds wrong bytes for $f under sync-$ROUNDS/blobs/${want_sha[$f]} (sha256 ${got:-none})"
done
stop "$up_pid"
up_pid=""

# ---------------------------------------------------------------- serve
log "importing ${SERVE_MIB} MiB into the bucket ($SERVE_REPO, prefix serve)"
mkdir -p "$tmp/serve-src"
head -c "$((SERVE_MIB * 1048576))" /dev/urandom >"$tmp/serve-src/$SERVE_FILE"
serve_bytes=$((SERVE_MIB * 1048576))
serve_sha=$(openssl dgst -sha256 -r "$tmp/serve-src/$SERVE_FILE" | awk '{ print $1 }')
serve_data=$tmp/serve-data
storage_config serve stream >"$tmp/serve-stream.toml"
storage_config serve redirect >"$tmp/serve-redirect.toml"
"$HM" import --config "$tmp/serve-stream.toml" --data "$serve_data" --repo "$SERVE_REPO" \
  "$tmp/serve-src" >"$tmp/serve-import.log" 2>&1 ||
  { cat "$tmp/serve-import.log" >&2; die "hubmirror import --config failed"; }
cat "$tmp/serve-import.log" >>"$tmp/hubmirror-output.log"
local_copy=$serve_data/blobs/sha256/${serve_sha:0:2}/${serve_sha:2:2}/$serve_sha
[[ -f $local_copy ]] || die "the import left no local copy at blobs/sha256/.../$serve_sha"
object_key=serve/blobs/$serve_sha
[[ $(object_sha "$object_key") == "$serve_sha" ]] || die "the bucket holds wrong bytes under $object_key"

start_serve stream "$serve_data" --config "$tmp/serve-stream.toml"
stream_pid=$srv_pid
stream_url=$srv_base/$SERVE_REPO/resolve/main/$SERVE_FILE
start_serve redirect "$serve_data" --config "$tmp/serve-redirect.toml"
redirect_pid=$srv_pid
redirect_url=$srv_base/$SERVE_REPO/resolve/main/$SERVE_FILE

# One whole-file GET for CASE to OUT, timed; prints the seconds. Dies if curl fails, the byte
# count is off, or the redirecting server did not redirect (or a streaming one did).
get_case() {  # get_case CASE OUT
  local t0 t1 st=0 args want_redirects=0
  case $1 in
    stream-cold | stream-warm) args=("$stream_url") ;;
    redirect) args=(-L "$redirect_url") want_redirects=1 ;;
    gateway) args=(-K "$s3_curlrc" "$s3_endpoint/$BUCKET/$object_key") ;;
  esac
  t0=$(now_ns)
  timeout -k 5 "$CMD_TIMEOUT" curl -sS -f -o "$2" -w '%{size_download} %{num_redirects}\n' "${args[@]}" \
    >"$tmp/get.out" 2>"$tmp/get.err" || st=$?
  t1=$(now_ns)
  ((st == 0)) || { cat "$tmp/get.err" >&2; alive "during the $1 download"; die "the $1 download failed (exit status $st)"; }
  [[ $(cat "$tmp/get.out") == "$serve_bytes $want_redirects" ]] ||
    die "the $1 download: $(cat "$tmp/get.out") (bytes, redirects followed), want $serve_bytes $want_redirects"
  secs "$t0" "$t1"
}

# Untimed, before each timed GET: the local copy (if there is one) back into the page cache, dirty
# pages written out; for stream-cold, the local copy deleted first, and for stream-warm, present.
prepare_case() {  # prepare_case CASE
  if [[ $1 == stream-cold ]]; then
    rm -f -- "$local_copy"
  elif [[ $1 == stream-warm ]]; then
    [[ -f $local_copy ]] || die "the streaming server kept no local copy of what it fetched from the bucket"
  fi
  [[ ! -f $local_copy ]] || cat -- "$local_copy" >/dev/null
  command sync
}

cases=(stream-cold stream-warm redirect gateway)
log "verifying each case's bytes (sha256), untimed"
for c in "${cases[@]}"; do
  prepare_case "$c"
  get_case "$c" "$tmp/check.bin" >/dev/null
  got=$(openssl dgst -sha256 -r "$tmp/check.bin" | awk '{ print $1 }')
  [[ $got == "$serve_sha" ]] || die "the $c download has sha256 $got, want $serve_sha"
  rm -f -- "$tmp/check.bin"
done
alive "after the content check"

declare -A times
log "$ROUNDS rounds of GET ${SERVE_MIB} MiB: ${cases[*]} (order rotating)"
for ((r = 1; r <= ROUNDS; r++)); do
  for ((k = 0; k < ${#cases[@]}; k++)); do
    c=${cases[(r - 1 + k) % ${#cases[@]}]}
    prepare_case "$c"
    v=$(get_case "$c" /dev/null)
    times[$c]+="$v "
    log "  round $r $c: $v s ($(mib_per_s "$serve_bytes" "$v") MiB/s)"
    alive "after round $r ($c)"
  done
done
stream_kib=$(awk '/^VmHWM:/ { print $2 }' "/proc/$stream_pid/status")
redirect_kib=$(awk '/^VmHWM:/ { print $2 }' "/proc/$redirect_pid/status")
stop "$stream_pid"
stream_pid=""
stop "$redirect_pid"
redirect_pid=""
cat "$tmp/stream.out" "$tmp/stream.err" "$tmp/redirect.out" "$tmp/redirect.err" >>"$tmp/hubmirror-output.log"
if grep -qF -e "$s3_secret" "$tmp/hubmirror-output.log"; then
  die "hubmirror printed the gateway's secret key"
fi

# ---------------------------------------------------------------- summary
declare -A med
for c in "${cases[@]}"; do
  med[$c]=$(tr ' ' '\n' <<<"${times[$c]}" | grep . | median 3)
done
sync_med=$(printf '%s\n' "${sync_times[@]}" | median 3)
put_med=$(printf '%s\n' "${put_times[@]}" | median 3)
echo
printf 'sync of %s GiB (%s files) into the object store, median of %s: sync %s s, curl PUT (%s at once) %s s\n' \
  "$(awk -v b="$total_bytes" 'BEGIN { printf "%.2f", b / 1073741824 }')" "$nfiles" "$ROUNDS" \
  "$sync_med" "$CONCURRENCY" "$put_med"
printf 'ratio sync / PUT = %s (information: the sync also downloads, hashes and stores every byte locally)\n' \
  "$(ratio "$sync_med" "$put_med")"
printf 'peak RSS of sync: %s MiB (target < 100 MiB, as for sync.sh)%s\n' "$(mib "$peak_sync_kib")" \
  "$([[ -n $GNU_TIME ]] || echo ' [VmHWM polled every 50 ms]')"
printf 'GET of %s MiB, median of %s: gateway %s s (%s MiB/s), stream-cold %s s, stream-warm %s s, redirect %s s\n' \
  "$SERVE_MIB" "$ROUNDS" "${med[gateway]}" "$(mib_per_s "$serve_bytes" "${med[gateway]}")" \
  "${med[stream-cold]}" "${med[stream-warm]}" "${med[redirect]}"
printf 'ratio gateway / stream-cold = %s, gateway / stream-warm = %s, gateway / redirect = %s (>= 1.0: as fast as the gateway itself)\n' \
  "$(ratio "${med[gateway]}" "${med[stream-cold]}")" "$(ratio "${med[gateway]}" "${med[stream-warm]}")" \
  "$(ratio "${med[gateway]}" "${med[redirect]}")"
printf 'peak RSS (VmHWM): streaming server %s MiB, redirecting server %s MiB (target < 100 MiB, as in pull_through.sh)\n' \
  "$(mib "$stream_kib")" "$(mib "$redirect_kib")"
