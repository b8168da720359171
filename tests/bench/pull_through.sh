#!/usr/bin/env bash
# Pull-through benchmark: a cold download of a ~1 GiB repo through a pull-through mirror
# (`hubmirror serve` on an empty data dir, [pull_through] allow = ["*"]) against the same download
# straight from its upstream (a local `hubmirror serve` of the repo), the mirror's peak RSS during
# it, and the warm second download from the mirror against nginx serving the same files.
#
#   tests/bench/pull_through.sh [HUBMIRROR_BIN]
#
# Binary: $1, else $HUBMIRROR_BIN, else build/hubmirror under the repo root.
# Environment knobs:
#   ROUNDS       paired rounds, order alternating (default 3)
#   SIZE_MIB     total size of the repo in MiB (default 1024)
#   SMALL_FILES  number of small files (default 16; 4-64 KiB each)
#   LARGE_FILES  number of large *.safetensors files sharing the rest (default 4)
#   CMD_TIMEOUT  seconds allowed for each timed download (default 300)
#   NGINX_BIN    nginx executable (default: nginx from PATH, else /usr/sbin/nginx)
#
# Every download is ONE curl process with every file of the repo (-K), each to /dev/null, run
# with --parallel --parallel-max 8 (huggingface_hub's snapshot_download concurrency), as in
# sync.sh. Each round:
#   cold  a fresh mirror process on a fresh empty data dir, started untimed; timed: the whole repo
#         through it, so it fetches the revision's metadata from the upstream and streams every
#         file to the client while hashing and storing it. Reference: the same download straight
#         from the upstream in the same round, the order alternating. Figure: upstream time /
#         mirror time, the median of the rounds' ratios. The mirror's VmHWM (the kernel's own peak
#         RSS) is read after its cold download: the process is fresh, so that is its peak over
#         start-up, metadata fetch and fills.
#   warm  the same download again from that mirror (every file from its store) against nginx
#         serving the source files with sendfile on; nginx time / mirror time, median of the
#         rounds' ratios.
# Before each timed download, untimed: every input back into the page cache and every dirty page
# written out. Every mirror data dir is kept until the end: deleting a GiB just before a timed
# download made it pay for the deletion (see sync.sh).
#
# Also printed, for information: the mirror's CPU time over its cold download. The mirror receives,
# hashes, writes and sends every byte where the upstream only sends it: on few cores that CPU
# time, not loopback, is what bounds the cold ratio.
#
# Before the rounds, untimed: a cold and a warm download through a mirror into files, whose
# sha256 must be the source's: the bytes a client gets during a fill, and the bytes stored.
#
# Exits non-zero if a server fails to start, a download fails or is short, a file has wrong bytes,
# or (after printing the figures) the mirror's X-Mirror-Cache answers are not all `fill` on a cold
# download and `hit` on a warm one; otherwise it only reports figures (targets are printed, not
# enforced).
set -euo pipefail

script_dir=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd -- "$script_dir/../.." && pwd)

BIN=${1:-${HUBMIRROR_BIN:-$repo_root/build/hubmirror}}
ROUNDS=${ROUNDS:-3}
SIZE_MIB=${SIZE_MIB:-1024}
SMALL_FILES=${SMALL_FILES:-16}
LARGE_FILES=${LARGE_FILES:-4}
CMD_TIMEOUT=${CMD_TIMEOUT:-300}
CURL_PARALLEL=8
REPO=bench/pull-through-model

BENCH_NAME=pull_through.sh
source "$script_dir/lib.sh"

[[ -x $BIN ]] || die "hubmirror binary not found or not executable: $BIN"
BIN=$(cd -- "$(dirname -- "$BIN")" && pwd)/$(basename -- "$BIN")
NGINX_BIN=${NGINX_BIN:-$(command -v nginx || echo /usr/sbin/nginx)}
[[ -x $NGINX_BIN ]] || die "nginx not found (set NGINX_BIN)"
for tool in curl openssl timeout awk sort; do
  command -v "$tool" >/dev/null || die "$tool not found"
done
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer"
[[ $SIZE_MIB =~ ^[1-9][0-9]*$ ]] || die "SIZE_MIB must be a positive integer"
[[ $SMALL_FILES =~ ^[0-9]+$ ]] || die "SMALL_FILES must be a non-negative integer"
[[ $LARGE_FILES =~ ^[1-9][0-9]*$ ]] || die "LARGE_FILES must be a positive integer"
[[ $CMD_TIMEOUT =~ ^[1-9][0-9]*$ ]] || die "CMD_TIMEOUT must be a positive integer"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hubmirror-bench.XXXXXX")
up_pid=""
mirror_pid=""
ng_pid=""

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop "$mirror_pid"
  stop "$up_pid"
  stop "$ng_pid"
  rm -rf -- "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

use_private_binary "$BIN" "$tmp"
note_load
note_memory $((3 * SIZE_MIB)) "the source files, the upstream's blobs and a mirror's"

# The source (nginx serves it), the upstream's blobs, the warm-up mirror's and its two downloaded
# copies, and one mirror a round.
need_mib=$(((ROUNDS + 5) * SIZE_MIB))
avail_mib=$(($(df -Pk -- "$tmp" | awk 'NR == 2 { print $4 }') / 1024))
((avail_mib >= need_mib)) ||
  die "needs about $need_mib MiB free under ${TMPDIR:-/tmp}, has $avail_mib MiB (lower ROUNDS or SIZE_MIB, or set TMPDIR)"

alive() {  # alive WHEN
  check_alive "upstream hubmirror serve" "$up_pid" "$tmp/upstream.err" "$1"
  check_alive nginx "$ng_pid" "$tmp/nginx/error.log" "$1"
  [[ -z $mirror_pid ]] || check_alive "pull-through hubmirror serve" "$mirror_pid" "$tmp/$mirror_name.err" "$1"
}

# ---------------------------------------------------------------- source repo and servers
make_model_source "$tmp/src"
mapfile -t files < <(cd -- "$tmp/src" && find . -type f -printf '%P\n' | sort)
nfiles=${#files[@]}
((nfiles == nblobs)) || die "the source folder has $nfiles files, want $nblobs"
src_paths=()
for f in "${files[@]}"; do src_paths+=("$tmp/src/$f"); done
source_digests
start_upstream "$REPO"

start_nginx "$tmp/src"

cat >"$tmp/pull_through.toml" <<EOF
[upstream]
url = "$up_base"

[pull_through]
enabled = true
allow = ["*"]
EOF

start_mirror() {  # start_mirror NAME: a pull-through mirror on the empty data dir $tmp/NAME; sets
  # mirror_pid, mirror_name, mirror_base
  mirror_name=$1
  mkdir -p "$tmp/$mirror_name"
  start_serve "$mirror_name" "$tmp/$mirror_name" --config "$tmp/pull_through.toml"
  mirror_pid=$srv_pid
  mirror_base=$srv_base
}

stop_mirror() {
  stop "$mirror_pid"
  mirror_pid=""
}

mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }  # mib KIB -> MiB, one decimal

# ---------------------------------------------------------------- downloads
curl_config() {  # curl_config URL_PREFIX [OUT_DIR] > config: every file of the repo, each to
  # OUT_DIR/NAME, or to /dev/null without OUT_DIR
  local f out=/dev/null
  for f in "${files[@]}"; do
    [[ -z ${2:-} ]] || out=$2/$f
    printf 'url = "%s/%s"\noutput = "%s"\n' "$1" "$f" "$out"
  done
}

# Untimed, before each timed download: the inputs back into the page cache (a kernel that reclaims
# cold pages proactively may have dropped them since the last round), dirty pages written out.
settle() {  # settle [DIR...]: the source, the upstream's blobs and every file under DIR...
  cat -- "${src_paths[@]}" "${upstream_blobs[@]}" >/dev/null
  (($# == 0)) || find "$@" -type f -exec cat -- {} + >/dev/null
  command sync
}

# Downloads every file of CONFIG with one curl; prints the seconds it took. Dies if curl fails or
# the byte count is off. The answers' X-Mirror-Cache values are left in $tmp/NAME.curl, one a line.
download() {  # download NAME CONFIG
  local name=$1 t0 t1 got
  t0=$(now_ns)
  timeout -k 5 "$CMD_TIMEOUT" curl -sS -f --fail-early --create-dirs \
    --parallel --parallel-max "$CURL_PARALLEL" -K "$2" \
    -w '%{size_download} %header{x-mirror-cache}\n' >"$tmp/$name.curl" 2>"$tmp/$name.curlerr" ||
    { cat "$tmp/$name.curlerr" >&2; alive "during the $name download"; die "the $name download failed"; }
  t1=$(now_ns)
  got=$(awk '{ s += $1 } END { printf "%.0f", s }' "$tmp/$name.curl")
  [[ $got == "$total_bytes" ]] || die "the $name download got $got bytes, want $total_bytes"
  secs "$t0" "$t1"
}

cache_failures=()
expect_cache() {  # expect_cache NAME VALUE: every answer of the NAME download had X-Mirror-Cache
  # VALUE; a failure is recorded, reported after the figures
  local seen
  seen=$(awk -v want="$2" '$2 != want { n[$2 == "" ? "(none)" : $2]++ }
    END { for (v in n) { printf "%s%d x %s", sep, n[v], v; sep = ", " } }' "$tmp/$1.curl")
  [[ -z $seen ]] && return 0
  log "  the $1 download: X-Mirror-Cache $seen (want $2 for all $nfiles)"
  cache_failures+=("$1: $seen, want $2")
}

# Until the mirror's status lists no fill in progress (one still storing would make the warm
# download find it not stored yet), at most 30 s.
wait_fills() {
  local i status
  for ((i = 0; i < 300; i++)); do
    status=$(curl -sf --max-time 5 "$mirror_base/api/mirror/status" | tr -d ' \n') || status=""
    [[ $status == *'"fills":[]'* ]] && return 0
    if [[ $status != *'"fills":'* ]]; then
      log "  warning: the mirror's /api/mirror/status has no pull_through.fills"
      return 0
    fi
    sleep 0.1
  done
  log "  warning: the mirror's status still lists fills in progress 30 s after the download"
}

check_files() {  # check_files DIR WHAT: DIR holds every file of the repo with the source's sha256
  local digest path bad=0
  while read -r digest path; do
    path=${path#\*}
    path=${path#"$1/"}
    [[ $digest == "${want_sha[$path]:-}" ]] ||
      { echo "$2: $path: sha256 $digest, want ${want_sha[$path]:-(no such file)}" >&2; bad=1; }
  done < <(openssl dgst -sha256 -r "${files[@]/#/$1/}")
  ((bad == 0)) || die "$2 has wrong bytes"
}

# ---------------------------------------------------------------- correctness, warm-up
log "warm-up and correctness: the repo straight from the upstream and from nginx, then cold and" \
  "warm through a mirror into files (sha256 checked)"
curl_config "$up_base/$REPO/resolve/main" >"$tmp/upstream.curlrc"
curl_config "$ng_base" >"$tmp/nginx.curlrc"
settle
download upstream "$tmp/upstream.curlrc" >/dev/null
download nginx "$tmp/nginx.curlrc" >/dev/null
start_mirror mirror-warmup
curl_config "$mirror_base/$REPO/resolve/main" "$tmp/check-cold" >"$tmp/check-cold.curlrc"
curl_config "$mirror_base/$REPO/resolve/main" "$tmp/check-warm" >"$tmp/check-warm.curlrc"
download check-cold "$tmp/check-cold.curlrc" >/dev/null
expect_cache check-cold fill
check_files "$tmp/check-cold" "the cold download through the mirror"
wait_fills
download check-warm "$tmp/check-warm.curlrc" >/dev/null
expect_cache check-warm hit
check_files "$tmp/check-warm" "the warm download from the mirror"
alive "after the warm-up"
stop_mirror

# ---------------------------------------------------------------- rounds
log "$ROUNDS paired rounds: cold through a fresh mirror / straight from the upstream, then warm" \
  "from that mirror / nginx (order alternating)"
declare -A label=([cold]="cold through the mirror" [upstream]="straight from the upstream"
  [warm]="warm from the mirror" [nginx]=nginx)
declare -A want_cache=([cold]=fill [warm]=hit)
declare -A took
run_pair() {  # run_pair ROUND A B: the downloads A and B, A first in odd rounds and B in even
  # ones; their seconds in took[A] and took[B]
  local r=$1 s order=("$2" "$3")
  ((r % 2)) || order=("$3" "$2")
  for s in "${order[@]}"; do
    settle "$tmp/$mirror_name"
    took[$s]=$(download "$s-$r" "$tmp/$s.curlrc")
    [[ -z ${want_cache[$s]:-} ]] || expect_cache "$s-$r" "${want_cache[$s]}"
    log "  round $r ${label[$s]}: ${took[$s]} s ($(mib_per_s "$total_bytes" "${took[$s]}") MiB/s)"
    alive "after round $r ($s)"
  done
}

cold_times=() up_times=() cold_ratios=() cpu_times=() warm_times=() ng_times=() warm_ratios=()
peak_rss_kib=0
for ((r = 1; r <= ROUNDS; r++)); do
  start_mirror "mirror-$r"
  curl_config "$mirror_base/$REPO/resolve/main" >"$tmp/cold.curlrc"
  cp -- "$tmp/cold.curlrc" "$tmp/warm.curlrc"
  run_pair "$r" cold upstream
  # The mirror is fresh and idle but for its cold download: its totals are that download's.
  rss_kib=$(awk '/^VmHWM:/ { print $2 }' "/proc/$mirror_pid/status")
  ((rss_kib > peak_rss_kib)) && peak_rss_kib=$rss_kib
  cpu=$(awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$mirror_pid/stat")
  cpu_times+=("$cpu")
  log "  round $r the mirror's peak RSS: $(mib "$rss_kib") MiB, CPU time: $cpu s"
  cold_times+=("${took[cold]}") up_times+=("${took[upstream]}")
  cold_ratios+=("$(ratio "${took[upstream]}" "${took[cold]}")")
  wait_fills
  run_pair "$r" warm nginx
  warm_times+=("${took[warm]}") ng_times+=("${took[nginx]}")
  warm_ratios+=("$(ratio "${took[nginx]}" "${took[warm]}")")
  stop_mirror
done

# ---------------------------------------------------------------- summary
alive "at the end"
echo
printf 'pull-through %s GiB (%s large + %s small files, curl --parallel-max %s), median of %s: cold through the mirror %s s, straight from the upstream %s s\n' \
  "$(awk -v b="$total_bytes" 'BEGIN { printf "%.2f", b / 1073741824 }')" "$LARGE_FILES" \
  "$SMALL_FILES" "$CURL_PARALLEL" "$ROUNDS" "$(printf '%s\n' "${cold_times[@]}" | median 3)" \
  "$(printf '%s\n' "${up_times[@]}" | median 3)"
printf 'ratio upstream time / mirror time, cold download (median of the rounds'"'"' ratios) = %s (target >= 0.9)\n' \
  "$(printf '%s\n' "${cold_ratios[@]}" | median)"
printf 'peak RSS of the mirror during a cold download (VmHWM, highest of %s): %s MiB (target < 100 MiB)\n' \
  "$ROUNDS" "$(mib "$peak_rss_kib")"
printf 'CPU time of the mirror during a cold download (user + system, median): %s s on %s cores (information)\n' \
  "$(printf '%s\n' "${cpu_times[@]}" | median)" "$(nproc)"
printf 'warm download, median of %s: from the mirror %s s, nginx %s s\n' "$ROUNDS" \
  "$(printf '%s\n' "${warm_times[@]}" | median 3)" "$(printf '%s\n' "${ng_times[@]}" | median 3)"
printf 'ratio nginx time / mirror time, warm download (median of the rounds'"'"' ratios) = %s (target >= 1.0)\n' \
  "$(printf '%s\n' "${warm_ratios[@]}" | median)"
if ((${#cache_failures[@]})); then
  printf 'X-Mirror-Cache not as expected: %s\n' "$(printf '%s\n' "${cache_failures[@]}" | paste -sd ';' | sed 's/;/; /g')"
  die "the mirror's X-Mirror-Cache answers were not fill on cold downloads and hit on warm ones"
fi
