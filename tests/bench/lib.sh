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
