#!/usr/bin/env bash
# Serving benchmark: hubmirror vs. nginx on the same files, loopback only; and hubmirror serving
# the small file to a client with a valid access token vs. anonymously (checking a token must
# cost almost nothing). Anonymous small-file requests carry an ignored header as long as the
# token's, so that both cases read requests of the same size.
#
#   tests/bench/serve.sh [HUBMIRROR_BIN]
#
# Binary: $1, else $HUBMIRROR_BIN, else build/hubmirror under the repo root.
# Environment knobs:
#   ROUNDS     large-file download rounds per server (default 5)
#   DURATION   seconds per wrk run (default 5)
#   WRK_ROUNDS small-file wrk rounds per case (default 4)
#   SIZE_MIB   size of the large file in MiB (default 256)
#   NGINX_BIN  nginx executable (default: nginx from PATH, else /usr/sbin/nginx)
#
# Exits non-zero if a server fails to start or a server returns wrong bytes;
# otherwise it only reports figures (targets are printed, not enforced).
set -euo pipefail

script_dir=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd -- "$script_dir/../.." && pwd)

BIN=${1:-${HUBMIRROR_BIN:-$repo_root/build/hubmirror}}
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-5}
SIZE_MIB=${SIZE_MIB:-256}
WRK_THREADS=2
WRK_CONNS=16
WRK_ROUNDS=${WRK_ROUNDS:-4}
REPO=bench/serve-model
BIG=model.bin
SMALL=config.json

BENCH_NAME=serve.sh
source "$script_dir/lib.sh"

[[ -x $BIN ]] || die "hubmirror binary not found or not executable: $BIN"
BIN=$(cd -- "$(dirname -- "$BIN")" && pwd)/$(basename -- "$BIN")
NGINX_BIN=${NGINX_BIN:-$(command -v nginx || echo /usr/sbin/nginx)}
[[ -x $NGINX_BIN ]] || die "nginx not found (set NGINX_BIN)"
for tool in curl wrk sha256sum awk; do
  command -v "$tool" >/dev/null || die "$tool not found"
done
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer"
[[ $DURATION =~ ^[1-9][0-9]*$ ]] || die "DURATION must be a positive integer"
[[ $WRK_ROUNDS =~ ^[1-9][0-9]*$ ]] || die "WRK_ROUNDS must be a positive integer"
[[ $SIZE_MIB =~ ^[1-9][0-9]*$ ]] || die "SIZE_MIB must be a positive integer"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hubmirror-bench.XXXXXX")
hm_pid=""
ng_pid=""

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop "$hm_pid"
  stop "$ng_pid"
  rm -rf -- "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

alive() {  # alive WHEN
  check_alive hubmirror "$hm_pid" "$tmp/hubmirror.err" "$1"
  check_alive nginx "$ng_pid" "$tmp/nginx/error.log" "$1"
}

# ---------------------------------------------------------------- test files
log "creating ${SIZE_MIB} MiB random file and a small file"
mkdir -p "$tmp/src" "$tmp/data" "$tmp/www" "$tmp/nginx"
head -c "$((SIZE_MIB * 1024 * 1024))" /dev/urandom >"$tmp/src/$BIG"
{
  printf '{\n  "architectures": ["BenchModel"],\n  "model_type": "bench",\n'
  printf '  "padding": "%s"\n}\n' "$(head -c 700 /dev/urandom | od -An -tx1 | tr -d ' \n' | head -c 900)"
} >"$tmp/src/$SMALL"
big_sha=$(sha256sum "$tmp/src/$BIG" | awk '{print $1}')
small_sha=$(sha256sum "$tmp/src/$SMALL" | awk '{print $1}')
# nginx serves its own copies (hard links when possible) so the import cannot
# affect them.
for f in "$BIG" "$SMALL"; do
  ln "$tmp/src/$f" "$tmp/www/$f" 2>/dev/null || cp "$tmp/src/$f" "$tmp/www/$f"
done

# ---------------------------------------------------------------- hubmirror
log "importing into hubmirror ($REPO)"
"$BIN" import --data "$tmp/data" --repo "$REPO" "$tmp/src" >"$tmp/import.log" 2>&1 ||
  { cat "$tmp/import.log" >&2; die "hubmirror import failed"; }
# A user with a read token: the repo is public, so the token changes who is asking, not what they
# may read. The secret is the last line of stdout and is never printed here.
log "creating a user and a read token"
"$BIN" --data "$tmp/data" user add bench-reader >"$tmp/user.log" 2>&1 ||
  { cat "$tmp/user.log" >&2; die "hubmirror user add failed"; }
token=$("$BIN" --data "$tmp/data" token create --user bench-reader 2>"$tmp/token.err" | tail -n1) ||
  { cat "$tmp/token.err" >&2; die "hubmirror token create failed"; }
[[ $token =~ ^hf_[A-Za-z0-9]+$ ]] || die "hubmirror token create printed no secret on its last line"
auth_header="Authorization: Bearer $token"
# Every other small-file request carries a header the servers ignore, as long as the token's: the
# token / anonymous ratio then measures checking the token, not reading a longer request.
padding_header="X-Bench-Padding: $(printf 'p%.0s' $(seq 1 $((${#auth_header} - 17))))"
((${#padding_header} == ${#auth_header})) || die "the padding header is not as long as the token's"

log "starting hubmirror serve"
HM=$BIN
start_serve hubmirror "$tmp/data"
hm_pid=$srv_pid
hm_base=$srv_base
hm_big="$hm_base/$REPO/resolve/main/$BIG"
hm_small="$hm_base/$REPO/resolve/main/$SMALL"

# ---------------------------------------------------------------- nginx
start_nginx "$tmp/www"
ng_big="$ng_base/$BIG"
ng_small="$ng_base/$SMALL"

# ---------------------------------------------------------------- correctness
check_sha() {  # check_sha NAME URL EXPECTED [CURL_ARGS...]
  local got
  got=$(curl -sfL --max-time 120 "${@:4}" "$2" | sha256sum | awk '{print $1}') || true
  [[ $got == "$3" ]] || die "$1: sha256 mismatch for $2 (got $got, want $3)"
}
log "verifying content (sha256)"
check_sha hubmirror "$hm_big" "$big_sha"
check_sha nginx "$ng_big" "$big_sha"
check_sha hubmirror "$hm_small" "$small_sha"
check_sha "hubmirror with a token" "$hm_small" "$small_sha" -H "$auth_header"
# The token case measures something only if the server checks tokens: a wrong one is refused.
bad_status=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer hf_$(printf 'x%.0s' {1..34})" "$hm_small")
[[ $bad_status == 401 ]] || die "hubmirror answered $bad_status, not 401, to an invalid token"
check_sha nginx "$ng_small" "$small_sha"
alive "after the content check"

# ---------------------------------------------------------------- helpers
download_mib_s() {  # URL -> MiB/s
  local bps
  bps=$(curl -sfL --max-time 120 -o /dev/null -w '%{speed_download}' "$1") ||
    die "download failed: $1"
  awk -v b="$bps" 'BEGIN { printf "%.1f\n", b / 1048576 }'
}
wrk_rps() {  # NAME URL [WRK_ARGS...] -> requests/s (warns on errors / non-2xx; with
  # must_succeed=1 in its environment, non-2xx answers are fatal: refusals are not the figure)
  local out rps
  out=$(wrk -t"$WRK_THREADS" -c"$WRK_CONNS" -d"${DURATION}s" --latency "${@:3}" "$2" 2>&1) ||
    { echo "$out" >&2; die "wrk failed against $1"; }
  if [[ ${must_succeed:-0} == 1 ]] && grep -q 'Non-2xx or 3xx responses' <<<"$out"; then
    die "$1: $(grep 'Non-2xx or 3xx responses' <<<"$out" | tr -s ' ')"
  fi
  if grep -qE 'Non-2xx or 3xx responses|Socket errors' <<<"$out"; then
    echo "warning: $1: $(grep -E 'Non-2xx or 3xx responses|Socket errors' <<<"$out" | tr -s ' ' | paste -sd';')" >&2
  fi
  rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
  [[ -n $rps ]] || { echo "$out" >&2; die "could not parse wrk output for $1"; }
  printf '%.0f\n' "$rps"
}

# ---------------------------------------------------------------- large file
log "large file: $ROUNDS rounds, alternating servers"
hm_speeds=() ng_speeds=()
for ((r = 1; r <= ROUNDS; r++)); do
  # Alternate which server goes first each round.
  if ((r % 2)); then order="hm ng"; else order="ng hm"; fi
  for s in $order; do
    if [[ $s == hm ]]; then
      v=$(download_mib_s "$hm_big") || { alive "during large-file round $r"; exit 1; }
      hm_speeds+=("$v")
    else
      v=$(download_mib_s "$ng_big") || { alive "during large-file round $r"; exit 1; }
      ng_speeds+=("$v")
    fi
    alive "after large-file round $r"
    log "  round $r $([[ $s == hm ]] && echo hubmirror || echo nginx): $v MiB/s"
  done
done
hm_large=$(printf '%s\n' "${hm_speeds[@]}" | median 1)
ng_large=$(printf '%s\n' "${ng_speeds[@]}" | median 1)

# ---------------------------------------------------------------- small file
log "small file: wrk -t$WRK_THREADS -c$WRK_CONNS -d${DURATION}s, $WRK_ROUNDS rounds each" \
  "(hubmirror anonymous, hubmirror with a token, nginx)"
hm_rps=() tk_rps=() ng_rps=()
case_name() { case $1 in hm) echo hubmirror ;; tk) echo "hubmirror with a token" ;; *) echo nginx ;; esac; }
for ((r = 1; r <= WRK_ROUNDS; r++)); do
  # Alternate the order each round; the anonymous and token runs stay next to each other, so the
  # machine's load is as alike as it gets for the two.
  if ((r % 2)); then order="hm tk ng"; else order="ng tk hm"; fi
  for s in $order; do
    case $s in
      hm)
        v=$(wrk_rps hubmirror "$hm_small" -H "$padding_header") ||
          { alive "during wrk round $r"; exit 1; }
        hm_rps+=("$v")
        ;;
      tk)
        v=$(must_succeed=1 wrk_rps "hubmirror with a token" "$hm_small" -H "$auth_header") ||
          { alive "during wrk round $r"; exit 1; }
        tk_rps+=("$v")
        ;;
      ng)
        v=$(wrk_rps nginx "$ng_small" -H "$padding_header") || { alive "during wrk round $r"; exit 1; }
        ng_rps+=("$v")
        ;;
    esac
    sleep 0.5  # let the server notice the connections wrk dropped
    alive "after wrk round $r ($(case_name "$s"))"
    log "  round $r $(case_name "$s"): $v req/s"
  done
done
hm_small_best=$(printf '%s\n' "${hm_rps[@]}" | sort -g | tail -n1)
tk_small_best=$(printf '%s\n' "${tk_rps[@]}" | sort -g | tail -n1)
# Each round's token run is next to its anonymous run: the median of the rounds' ratios compares
# runs made under the same load, which the best of each does not.
tk_ratio=$(for ((i = 0; i < ${#tk_rps[@]}; i++)); do ratio "${tk_rps[i]}" "${hm_rps[i]}"; echo; done |
  median 2)
ng_small_best=$(printf '%s\n' "${ng_rps[@]}" | sort -g | tail -n1)

# ---------------------------------------------------------------- summary
alive "at the end"
echo
printf 'large-file throughput (%s MiB, median of %s): hubmirror %s MiB/s, nginx %s MiB/s, ratio %s (target >= 1.0)\n' \
  "$SIZE_MIB" "$ROUNDS" "$hm_large" "$ng_large" "$(ratio "$hm_large" "$ng_large")"
printf 'small-file requests/s (wrk %s connections, best of %s x %ss): hubmirror %s, nginx %s, ratio %s (target >= 0.5)\n' \
  "$WRK_CONNS" "$WRK_ROUNDS" "$DURATION" "$hm_small_best" "$ng_small_best" "$(ratio "$hm_small_best" "$ng_small_best")"
printf 'small-file requests/s with a read token on a public repo (best of %s x %ss): token %s, anonymous %s; token / anonymous ratio, median of the rounds %s (target >= 0.95)\n' \
  "$WRK_ROUNDS" "$DURATION" "$tk_small_best" "$hm_small_best" "$tk_ratio"
