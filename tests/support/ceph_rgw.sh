#!/usr/bin/env bash
# Starts and stops a single-node Ceph cluster with a RADOS Gateway: a real S3 server for the
# tests that talk to object storage. One ceph-mon, one ceph-osd (bluestore on a sparse file)
# and one radosgw, all bound to 127.0.0.1; no ceph-mgr (S3 does not need one, and it costs
# about 300 MiB), no /etc/ceph, no systemd. Used by the test suite.
#
#   tests/support/ceph_rgw.sh start DIR
#     DIR must be empty or absent; it is created. Every path the cluster uses (config, keyring,
#     data, logs, pid files, admin sockets, run dir) is under DIR, and every daemon is started
#     with `-c DIR/ceph.conf`, so `pgrep -f DIR` finds them all. Picks two free ports (the
#     monitor's and the gateway's), waits until the gateway answers HTTP, creates one S3 user
#     with a random key pair, and creates nothing else (no bucket). On success prints exactly
#       S3_ENDPOINT=http://127.0.0.1:PORT
#       S3_ACCESS_KEY=...
#       S3_SECRET_KEY=...
#     (also written to DIR/env) and exits 0. Daemon output goes to files under DIR/log, never
#     to stdout. On failure prints one line on stderr naming the step and the log to read,
#     stops whatever it started and exits 1.
#
#   tests/support/ceph_rgw.sh stop DIR
#     Stops the daemons that `start` recorded in DIR/pids (TERM, then KILL after a few seconds)
#     and waits until they are gone. Idempotent; DIR itself is left in place.
#
# Needs the Debian packages ceph-mon, ceph-osd, radosgw, ceph-common (deploy/install-deps.sh),
# python3 and curl. DIR must be on a filesystem that supports O_DIRECT (ext4 and xfs do; tmpfs
# only since Linux 6.6): bluestore opens its block file with it. The unusual settings, the ones
# that make start-up fast and the footprint small on one node, are explained one by one where
# ceph.conf is written, below.
set -euo pipefail

prog=ceph_rgw.sh
# Bounds for one start: each ceph command, and the whole wait for the gateway to answer.
command_timeout=30
gateway_timeout=60

usage() {
  echo "usage: $prog start|stop DIR" >&2
  exit 2
}

[[ $# -eq 2 ]] || usage
action=$1
[[ -n $2 ]] || usage
# Absolute, since the daemons do not run in the caller's directory; no whitespace, since
# ceph.conf values and the daemons' command lines are split on it.
dir=$(realpath -m -- "$2")
[[ $dir != *[[:space:]]* ]] || { echo "$prog: DIR must not contain whitespace: $dir" >&2; exit 2; }
conf=$dir/ceph.conf
setup_log=$dir/log/setup.log

# alive PID: the process exists, is not a zombie and was started by this script for DIR (its
# command line names DIR's ceph.conf), so a recycled PID is never signalled.
alive() {
  local pid=$1 state
  [[ -r /proc/$pid/stat ]] || return 1
  state=$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null) || return 1
  [[ -n $state && $state != Z ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "-c $conf " || return 1
}

recorded_pids() {
  [[ -f $dir/pids ]] || return 0
  awk '{ print $1 }' "$dir/pids"
}

stop_one() {  # stop_one PID: TERM; KILL if still there after 5 s; wait until it is gone
  local pid=$1 i
  alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 150; i++)); do
    alive "$pid" || return 0
    if ((i == 50)); then kill -KILL "$pid" 2>/dev/null || true; fi
    sleep 0.1
  done
  echo "$prog: stop: PID $pid is still running after KILL" >&2
  return 1
}

# Newest first: the gateway and the OSD tell the monitor they are going, and an OSD whose
# monitor is already gone waits 5 s for its answer.
stop_daemons() {
  local pid status=0
  for pid in $(recorded_pids | tac); do
    stop_one "$pid" || status=1
  done
  return "$status"
}

if [[ $action == stop ]]; then
  stop_daemons
  exit 0
fi
[[ $action == start ]] || usage

# --- start ---------------------------------------------------------------------------------

if [[ -e $dir && -n $(ls -A -- "$dir" 2>/dev/null) ]]; then
  echo "$prog: start: $dir is not empty" >&2
  exit 1
fi
mkdir -p "$dir"/{log,run,mon,osd/ceph-0,rgw,crash}
: >"$setup_log"
# Checked first, as bluestore's own failure would come late and read obscurely.
if ! dd if=/dev/zero of="$dir/osd/odirect-check" bs=4096 count=1 oflag=direct \
  >>"$setup_log" 2>&1; then
  echo "$prog: start failed at step 'checking O_DIRECT' (bluestore needs it);" \
    "see $setup_log" >&2
  exit 1
fi
rm -f "$dir/osd/odirect-check"

started=0
failed_line=
failure_reported=0
on_exit() {
  local status=$?
  ((status != 0)) || return 0
  if ((!failure_reported)); then
    echo "$prog: start failed unexpectedly${failed_line:+ (line $failed_line)}; see $setup_log" >&2
  fi
  ((started == 0)) || stop_daemons >/dev/null 2>&1 || true
}
trap 'failed_line=$LINENO' ERR
trap on_exit EXIT
interrupted() {
  echo "$prog: start interrupted by a signal; stopping what it started" >&2
  failure_reported=1
  exit 1
}
trap interrupted INT TERM HUP

fail() {  # fail STEP LOG [WHY]: the one line a failed start prints; on_exit stops the daemons
  echo "$prog: start failed at step '$1'${3:+ ($3)}; see $2" >&2
  failure_reported=1
  exit 1
}

step() {  # step NAME CMD...: run a setup command with a time limit, its output to setup.log
  local name=$1
  shift
  echo "== $name: $*" >>"$setup_log"
  timeout "$command_timeout" "$@" </dev/null >>"$setup_log" 2>&1 && return 0
  # A daemon that died is the likelier cause (the ceph command then waits for it in vain).
  [[ ! -f $dir/pids ]] || check_daemons "$name"
  fail "$name" "$setup_log"
}

# launch LOG CMD...: start a daemon in the foreground mode (-f), in the background, with its
# stdout and stderr (only early errors: it logs to LOG) in DIR/log/NAME.out; record its PID.
launch() {
  local log=$1 name=$2
  shift
  "$@" </dev/null >>"$dir/log/$name.out" 2>&1 &
  echo "$! $name $log" >>"$dir/pids"
  started=1
}

check_daemons() {  # check_daemons STEP: fail naming the first daemon that is no longer running
  local pid name log
  while read -r pid name log; do
    alive "$pid" || fail "$1" "$log and $dir/log/$name.out" "$name exited"
  done <"$dir/pids"
}

# Two free ports on 127.0.0.1 (both held open until printed, so they differ), an access key
# of 20 upper-case letters and digits, and a secret of 40 letters and digits.
read -r mon_port rgw_port access_key secret_key < <(python3 -c '
import secrets, socket, string
socks = [socket.socket() for _ in range(2)]
for s in socks:
    s.bind(("127.0.0.1", 0))
upper = string.ascii_uppercase + string.digits
mixed = string.ascii_letters + string.digits
print(*[s.getsockname()[1] for s in socks],
      "".join(secrets.choice(upper) for _ in range(20)),
      "".join(secrets.choice(mixed) for _ in range(40)))
') || true
[[ -n ${secret_key:-} ]] || fail "picking free ports and keys" "$setup_log"
fsid=$(uuidgen)
osd_uuid=$(uuidgen)
endpoint=http://127.0.0.1:$rgw_port

# $cluster, $name, $id and $channel are expanded by Ceph, not by this script.
cat >"$conf" <<EOF
[global]
fsid = $fsid
mon host = [v2:127.0.0.1:$mon_port]
public addr = 127.0.0.1
cluster addr = 127.0.0.1
# msgr2 only: one listening port per messenger instead of two.
ms bind msgr1 = false
ms bind ipv6 = false

# Every path under DIR, none in /etc/ceph, /var/lib/ceph, /var/log/ceph or /var/run/ceph.
keyring = $dir/keyring
run dir = $dir/run
admin socket = $dir/run/\$cluster-\$name.asok
pid file = $dir/run/\$cluster-\$name.pid
crash dir = $dir/crash
log file = $dir/log/\$cluster-\$name.log
mon cluster log file = $dir/log/\$cluster.\$channel.log
log to stderr = false
err to stderr = false
mon data = $dir/mon/\$cluster-\$id
osd data = $dir/osd/\$cluster-\$id
rgw data = $dir/rgw/\$cluster-\$id

# Each map change waits this long before it is proposed (default 1 s: about 10 s of start-up).
paxos propose interval = 0.01

# One OSD: pools of one replica (which the monitor otherwise refuses, and warns about), few
# placement groups, and CRUSH placing replicas across OSDs rather than across hosts.
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
mon warn on pool no redundancy = false
osd pool default pg num = 8
osd pool default pgp num = 8
# The autoscaler lives in ceph-mgr, which does not run here.
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0

# Bluestore on a sparse file rather than memstore, which keeps every byte in memory (about
# twice the stored bytes) and never gives it back. The file only takes what is written.
osd objectstore = bluestore
bluestore block create = true
bluestore block size = 21474836480
# mkfs checks the new store by default: seconds spent on an empty file.
bluestore fsck on mkfs = false
# The I/O completion thread's poll (default 250 ms) is felt at every start-up step and stop.
bdev aio poll ms = 10
# One op queue shard instead of five (hdd) or eight (ssd): fewer threads on two cores.
osd op num shards = 1

# Deleted and overwritten objects' data is collected 10 s after instead of 2 h (the wait lets
# slow reads of the old data finish; no test reads for that long), checked for every 10 s
# instead of every hour, so tests that measure space see it freed soon. (radosgw-admin gc
# process --include-all collects at once.)
rgw gc obj min wait = 10
rgw gc processor period = 10

[client.rgw.gw]
rgw frontends = beast endpoint=127.0.0.1:$rgw_port
# Virtual-host addressing (bucket.localhost:PORT): the gateway takes the bucket from a Host under
# this name, and curl resolves every *.localhost to the loopback address without DNS.
rgw dns name = localhost
# The gateway starts with the OSD, and its first writes find no OSD up; they are retried on
# this tick (default 5 s, which was most of the start-up time).
objecter tick interval = 0.5
EOF

# One keyring for everyone (the monitor's mkfs imports all of it into its auth database).
keyring=$dir/keyring
step "creating keys" ceph-authtool --create-keyring "$keyring" --gen-key -n mon. --cap mon 'allow *'
step "creating keys" ceph-authtool "$keyring" --gen-key -n client.admin \
  --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *'
step "creating keys" ceph-authtool "$keyring" --gen-key -n osd.0 \
  --cap mon 'allow profile osd' --cap mgr 'allow profile osd' --cap osd 'allow *'
step "creating keys" ceph-authtool "$keyring" --gen-key -n client.rgw.gw \
  --cap mon 'allow rw' --cap osd 'allow rwx'

step "creating the monitor map" monmaptool --create --fsid "$fsid" \
  --addv a "[v2:127.0.0.1:$mon_port]" "$dir/monmap"
step "creating the monitor" ceph-mon -c "$conf" --mkfs -i a --monmap "$dir/monmap" \
  --keyring "$keyring"
launch "$dir/log/ceph-mon.a.log" ceph-mon -c "$conf" -i a -f

# The ceph command waits for the monitor to form its quorum of one.
step "registering the OSD" ceph -c "$conf" --connect-timeout "$command_timeout" \
  osd new "$osd_uuid" 0
step "creating the OSD" ceph-osd -c "$conf" -i 0 --mkfs --osd-uuid "$osd_uuid"
launch "$dir/log/ceph-osd.0.log" ceph-osd -c "$conf" -i 0 -f

# The gateway creates its pools, and opens its port once they are usable.
launch "$dir/log/ceph-client.rgw.gw.log" radosgw -c "$conf" -n client.rgw.gw -f
deadline=$((SECONDS + gateway_timeout))
while :; do
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$endpoint/" 2>/dev/null || true)
  [[ $code == 000 || -z $code ]] || break
  check_daemons "waiting for the gateway"
  ((SECONDS < deadline)) || fail "waiting for the gateway" "$dir/log/ceph-client.rgw.gw.log" \
    "no HTTP answer on port $rgw_port after $gateway_timeout s"
  sleep 0.2
done

step "creating the S3 user" radosgw-admin -c "$conf" user create --uid=test \
  --display-name="test suite" --access-key="$access_key" --secret-key="$secret_key"

printf 'S3_ENDPOINT=%s\nS3_ACCESS_KEY=%s\nS3_SECRET_KEY=%s\n' \
  "$endpoint" "$access_key" "$secret_key" >"$dir/env"
cat "$dir/env"
