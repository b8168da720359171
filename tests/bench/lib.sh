# Shell helpers shared by the benchmarks in this folder. Sourced, not executed; the sourcing
# script sets BENCH_NAME (used in error messages) before calling die.

die() { echo "$BENCH_NAME: error: $*" >&2; exit 1; }
log() { echo "== $*" >&2; }

stop() {  # stop PID: TERM, wait up to ~5 s, then KILL
  local pid=$1 i
  [[ -n $pid ]] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 50; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

check_alive() {  # check_alive NAME PID LOGFILE WHEN: die with the exit status if PID is gone
  local name=$1 pid=$2 logf=$3 when=$4 st=0 how
  kill -0 "$pid" 2>/dev/null && return 0
  wait "$pid" 2>/dev/null || st=$?
  if ((st > 128)); then
    how="killed by SIG$(kill -l $((st - 128)) 2>/dev/null || echo $((st - 128)))"
  else
    how="exit status $st"
  fi
  [[ -s $logf ]] && { echo "--- last lines of $name log:" >&2; tail -n 20 "$logf" >&2; }
  die "$name exited during the benchmark ($how) $when"
}

median() {  # median [DECIMALS] < numbers -> their median (default 2 decimals)
  sort -g | awk -v d="${1:-2}" '{v[NR] = $1} END {
    if (NR == 0) { print 0; exit }
    if (NR % 2) m = v[(NR + 1) / 2]; else m = (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "%.*f\n", d, m }'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

start_bench_dir() {  # start_bench_dir: a fresh temporary dir $tmp; on exit the server $srv_pid
  # (if any) is stopped and $tmp removed
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/hubmirror-bench.XXXXXX")
  srv_pid=""
  trap bench_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}
bench_cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop "$srv_pid"
  rm -rf -- "$tmp"
  exit "$rc"
}
use_private_binary() {  # use_private_binary BIN DIR: copy BIN to DIR/bin and set HM to it, so a
  # rebuild during the run cannot mix two versions
  mkdir -p "$2/bin"
  cp -- "$1" "$2/bin/hubmirror"
  HM=$2/bin/hubmirror
  "$HM" --help >/dev/null 2>&1 || die "$1 does not run"
}

note_load() {  # note_load: say when other work is running, as it skews the timings
  local load1 rest
  read -r load1 rest </proc/loadavg
  if awk -v l="$load1" 'BEGIN { exit !(l >= 0.5) }'; then
    log "note: load average is $load1 before the run; other work on this machine skews the timings"
  fi
}

note_memory() {  # note_memory NEED_MIB WHAT...: say when the page cache cannot hold NEED_MIB
  local need=$1 avail_kib
  shift
  avail_kib=$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo)
  if [[ -n $avail_kib ]] && ((avail_kib / 1024 < need)); then
    log "note: only $((avail_kib / 1024)) MiB of memory available for $*;" \
      "the page cache may not hold them all, and the timings would then include disk reads"
  fi
}

now_ns() { date +%s%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'; }
mib_per_s() { awk -v b="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.1f", b / 1048576 / s; else print "n/a" }'; }
rand_between() { echo $(($1 + (RANDOM * 32768 + RANDOM) % ($2 - $1 + 1))); }

make_model_source() {  # make_model_source DIR: SMALL_FILES small JSON files (4-64 KiB) and
  # LARGE_FILES *.safetensors sharing the rest of SIZE_MIB MiB of random bytes; sets
  # total_bytes and nblobs
  local dir=$1 i n small_bytes=0 large_each
  log "creating the source folder (${SIZE_MIB} MiB: $LARGE_FILES large + $SMALL_FILES small files)"
  mkdir -p "$dir"
  for ((i = 0; i < SMALL_FILES; i++)); do
    n=$(($(rand_between 4 64) * 1024))
    head -c "$n" /dev/urandom >"$dir/part-$(printf '%04d' "$i").json"
    small_bytes=$((small_bytes + n))
  done
  large_each=$(((SIZE_MIB * 1048576 - small_bytes) / LARGE_FILES))
  ((large_each > 0)) || die "SIZE_MIB too small for $SMALL_FILES small files"
  for ((i = 1; i <= LARGE_FILES; i++)); do
    head -c "$large_each" /dev/urandom >"$dir/$(printf 'model-%05d-of-%05d.safetensors' "$i" "$LARGE_FILES")"
  done
  total_bytes=$((small_bytes + large_each * LARGE_FILES))
  nblobs=$((SMALL_FILES + LARGE_FILES))
}

source_digests() {  # source_digests: want_sha[PATH] = the sha256 of each of src_paths, PATH relative to
  # $tmp/src (this also reads every source file into the page cache)
  declare -gA want_sha=()
  local digest path
  while read -r digest path; do
    path=${path#\*}
    want_sha[${path#"$tmp/src/"}]=$digest
  done < <(openssl dgst -sha256 -r "${src_paths[@]}")
  ((${#want_sha[@]} == ${#src_paths[@]})) ||
    die "openssl dgst listed ${#want_sha[@]} of ${#src_paths[@]} files"
}

start_upstream() {  # start_upstream REPO: `$HM import` of $tmp/src into $tmp/upstream, then serve
  # it; sets up_pid, up_base and upstream_blobs (its blob files)
  log "importing into the upstream hubmirror ($1)"
  "$HM" import --data "$tmp/upstream" --repo "$1" "$tmp/src" >"$tmp/import.log" 2>&1 ||
    { cat "$tmp/import.log" >&2; die "hubmirror import failed"; }
  start_serve upstream "$tmp/upstream"
  up_pid=$srv_pid
  up_base=$srv_base
  mapfile -t upstream_blobs < <(find "$tmp/upstream/blobs" -type f)
}

free_port() {  # free_port -> a TCP port free on 127.0.0.1 (for servers that cannot take port 0)
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
    return
  fi
  local p i
  for ((i = 0; i < 100; i++)); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return
    fi
  done
  die "could not find a free port"
}

start_serve() {  # start_serve NAME DATA_DIR [SERVE_ARGS...]: `$HM serve` on a free loopback port,
  # its output in $tmp/NAME.out and $tmp/NAME.err; sets srv_pid and srv_base
  local name=$1 data=$2 i
  shift 2
  "$HM" serve --data "$data" --listen 127.0.0.1:0 "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
  srv_pid=$!
  srv_base=""
  for ((i = 0; i < 200; i++)); do
    srv_base=$(grep -o -m1 'http://127\.0\.0\.1:[0-9][0-9]*' "$tmp/$name.out" 2>/dev/null || true)
    [[ -n $srv_base ]] && break
    kill -0 "$srv_pid" 2>/dev/null || break
    sleep 0.1
  done
  if [[ -z $srv_base ]]; then
    stop "$srv_pid"
    cat "$tmp/$name.out" "$tmp/$name.err" >&2 || true
    die "hubmirror serve ($name) did not report a listening address"
  fi
}

start_nginx() {  # start_nginx ROOT: $NGINX_BIN serving ROOT with sendfile on, on a free loopback
  # port, its files under $tmp/nginx (errors in $tmp/nginx/error.log); sets ng_pid and ng_base
  local root=$1 port nginx_user="" i
  mkdir -p "$tmp/nginx"
  port=$(free_port)
  if [[ $EUID -eq 0 ]]; then
    # Workers would otherwise drop to "nobody", which cannot read the temp dir.
    nginx_user="user $(id -un) $(id -gn);"
  fi
  cat >"$tmp/nginx/nginx.conf" <<EOF
$nginx_user
daemon off;
master_process on;
worker_processes auto;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events {
    worker_connections 1024;
}
http {
    access_log off;
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 65;
    keepalive_requests 100000;
    client_body_temp_path $tmp/nginx/client_body;
    proxy_temp_path $tmp/nginx/proxy;
    fastcgi_temp_path $tmp/nginx/fastcgi;
    uwsgi_temp_path $tmp/nginx/uwsgi;
    scgi_temp_path $tmp/nginx/scgi;
    server {
        listen 127.0.0.1:$port;
        server_name localhost;
        root $root;
        location / {
        }
    }
}
EOF
  log "starting nginx on 127.0.0.1:$port"
  "$NGINX_BIN" -p "$tmp/nginx/" -e "$tmp/nginx/error.log" -c "$tmp/nginx/nginx.conf" \
    >"$tmp/nginx/stdout.log" 2>&1 &
  ng_pid=$!
  ng_base="http://127.0.0.1:$port"
  # Any HTTP answer (a 403 for the folder itself too) means it listens.
  for ((i = 0; i < 100; i++)); do
    [[ $(curl -s -o /dev/null -w '%{http_code}' "$ng_base/" 2>/dev/null) != 000 ]] && return 0
    kill -0 "$ng_pid" 2>/dev/null || break
    sleep 0.1
  done
  cat "$tmp/nginx/stdout.log" "$tmp/nginx/error.log" >&2 2>/dev/null || true
  die "nginx did not start"
}
