#!/usr/bin/env bash
# Checks what deploy/ ships for running the server: the systemd unit (systemd-analyze verify and
# security, the settings the deployment promises, and a run of its ExecStart under strace that
# must stay inside its system call filter and write only under its data directory, answer
# /healthz and exit 0 on SIGTERM), and the Containerfile (its structure, and runtime packages
# that exist and provide every shared library the binary loads). Container images are not built
# here: that needs base images from a registry.
# Usage: deploy_units_test.sh PATH/TO/hubmirror
set -euo pipefail

if [ "$#" -ne 1 ] || [ ! -x "$1" ]; then
  echo "usage: $0 PATH/TO/hubmirror" >&2
  exit 2
fi
binary=$(realpath "$1")
deploy_dir=$(cd "$(dirname "$0")/../../deploy" && pwd)
unit=$deploy_dir/hubmirror.service
containerfile=$deploy_dir/Containerfile

work=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill -KILL "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

failures=0
# check DESCRIPTION COMMAND...: runs COMMAND, reports it, and counts a failure without stopping.
check() {
  local description=$1
  shift
  if "$@"; then
    echo "ok      $description"
  else
    echo "FAILED  $description"
    failures=$((failures + 1))
  fi
}

# unit_values KEY: the values of KEY= in the shipped unit, one a line, in order.
unit_values() {
  sed -n "s/^$1=//p" "$unit"
}

has_line() {
  grep -qxF -- "$1" "$2"
}

# ---- the systemd unit ---------------------------------------------------------------------------

echo "== $unit"
for setting in User=hubmirror Group=hubmirror DynamicUser=no StateDirectory=hubmirror \
  ConfigurationDirectory=hubmirror EnvironmentFile=-/etc/hubmirror/env ProtectSystem=strict \
  NoNewPrivileges=yes Restart=on-failure KillSignal=SIGTERM PrivateTmp=yes ProtectHome=yes \
  ProtectKernelTunables=yes "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX"; do
  check "sets $setting" has_line "$setting" "$unit"
done

only_data_dir_writable() {
  [ "$(unit_values ReadWritePaths)" = /var/lib/hubmirror ]
}
check "ReadWritePaths= is the data directory alone" only_data_dir_writable

enough_files() {
  local limit
  limit=$(unit_values LimitNOFILE | tail -n 1)
  limit=${limit%%:*}
  [[ "$limit" =~ ^[0-9]+$ ]] && [ "$limit" -ge 4096 ]
}
check "LimitNOFILE= leaves room for 1024 connections and their files (>= 4096)" enough_files

exec_start=$(unit_values ExecStart)
exec_start_as_promised() {
  [ "$(printf '%s\n' "$exec_start" | wc -l)" -eq 1 ] &&
    [[ "$exec_start" == "/usr/local/bin/hubmirror serve "* ]] &&
    [[ " $exec_start " == *" --data /var/lib/hubmirror "* ]] &&
    [[ " $exec_start " == *" --config /etc/hubmirror/hubmirror.toml "* ]] &&
    [[ " $exec_start " == *" --listen "* ]] &&
    # Run literally below, so it must not need systemd's expansion of specifiers or variables.
    [[ "$exec_start" != *[%\$]* ]]
}
check "ExecStart= runs /usr/local/bin/hubmirror serve on /var/lib/hubmirror with the config" \
  exec_start_as_promised

# systemd-analyze verify refuses an ExecStart binary that does not exist, so it checks a copy
# that runs the binary under test; the copy must differ from the shipped unit in that line alone.
# It reports unknown keys and bad values as warnings with exit status 0: any output fails.
mkdir "$work/unit"
sed "s#^ExecStart=/usr/local/bin/hubmirror #ExecStart=$binary #" "$unit" \
  >"$work/unit/hubmirror.service"
only_exec_start_differs() {
  diff "$unit" "$work/unit/hubmirror.service" >"$work/unit.diff" || true
  [ "$(grep -c '^>' "$work/unit.diff")" -eq 1 ] && grep -q '^> ExecStart=' "$work/unit.diff"
}
check "the verified copy differs from the shipped unit only in ExecStart's binary" \
  only_exec_start_differs
verify_clean() {
  local output status=0
  output=$(cd "$work/unit" && systemd-analyze verify ./hubmirror.service 2>&1) || status=$?
  if [ "$status" -ne 0 ] || [ -n "$output" ]; then
    printf '%s\n' "$output" | sed 's/^/        /'
    return 1
  fi
}
check "systemd-analyze verify passes without a warning" verify_clean

# The exposure score systemd computes from the sandboxing settings, 0 to 100: 20 is "OK".
secure_enough() {
  systemd-analyze security --offline=yes --threshold=20 "$work/unit/hubmirror.service" \
    >"$work/security.txt" 2>&1 || {
    grep -E '^(✗|→)' "$work/security.txt" | sed 's/^/        /'
    return 1
  }
}
check "systemd-analyze security rates its exposure at most 2.0" secure_enough

# ---- the unit's ExecStart, run ------------------------------------------------------------------

# As systemd would: from /, umask and open-file limit of the unit, no new privileges, an
# unprivileged user (nobody when this test runs as root, since SQLite changes the owner of the
# files it creates when it runs as root), the data directory and config swapped for temporary
# ones, a free port, and strace recording every system call.
echo "== ExecStart under strace"
data_dir=$work/data
mkdir "$data_dir"
printf '[access]\nanonymous = "read"\n' >"$work/hubmirror.toml"
chmod 0755 "$work"
chmod 0644 "$work/hubmirror.toml"
run_binary=$binary
drop_privileges=()
if [ "$(id -u)" -eq 0 ]; then
  run_binary=$work/hubmirror
  install -m 0755 "$binary" "$run_binary"
  touch "$work/trace"
  chown nobody:nogroup "$data_dir" "$work/trace"
  drop_privileges=(--reuid=nobody --regid=nogroup --clear-groups)
fi
read -ra unit_args <<<"$exec_start"
args=()
previous=
for arg in "${unit_args[@]}"; do
  case "$previous:$arg" in
    --listen:*) args+=(127.0.0.1:0) ;;
    *:/usr/local/bin/hubmirror) args+=("$run_binary") ;;
    *:/var/lib/hubmirror) args+=("$data_dir") ;;
    *:/etc/hubmirror/hubmirror.toml) args+=("$work/hubmirror.toml") ;;
    *) args+=("$arg") ;;
  esac
  previous=$arg
done
limit=$(unit_values LimitNOFILE | tail -n 1)
limit=${limit##*:}
# Raising the hard limit takes CAP_SYS_RESOURCE, which systemd has and this test may not.
if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt "$limit" ]; then
  limit=$(ulimit -Hn)
fi
umask_value=$(unit_values UMask | tail -n 1)
echo "        ${args[*]}"
(
  cd /
  umask "${umask_value:-0022}"
  exec prlimit --nofile="$limit:$limit" -- \
    setpriv --no-new-privs "${drop_privileges[@]}" -- \
    strace -f -qq -y -o "$work/trace" -- "${args[@]}"
) >"$work/stdout" 2>"$work/stderr" &
server_pid=$!

address=
for _ in $(seq 100); do
  address=$(sed -n 's#^listening on http://##p' "$work/stdout")
  [ -n "$address" ] && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
healthy() {
  [ -n "$address" ] &&
    [ "$(curl -fsS --max-time 5 "http://$address/healthz")" = '{"status":"ok"}' ]
}
check "GET /healthz answers {\"status\":\"ok\"}" healthy

# strace runs the server as its child and exits with its status.
stops_cleanly() {
  local traced
  traced=$(pgrep -P "$server_pid") || return 1
  kill -TERM "$traced"
  for _ in $(seq 100); do
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$server_pid" 2>/dev/null; then
    echo "        still running 10 s after SIGTERM"
    return 1
  fi
  local status=0
  wait "$server_pid" || status=$?
  server_pid=
  [ "$status" -eq 0 ] || echo "        exit status $status"
  [ "$status" -eq 0 ]
}
check "SIGTERM stops it with exit status 0 within 10 s" stops_cleanly
if [ -n "$server_pid" ] || [ -z "$address" ]; then
  sed 's/^/        stderr: /' "$work/stderr"
fi

# expand_syscalls NAME...: system call names, with @groups expanded as systemd expands them.
expand_syscalls() {
  local name entry
  for name in "$@"; do
    if [[ "$name" == @* ]]; then
      systemd-analyze syscall-filter "$name" | sed -n '2,$p' | grep -v '^ *#' |
        while read -r entry; do [ -n "$entry" ] && expand_syscalls "$entry"; done
    else
      echo "$name"
    fi
  done
}
within_syscall_filter() {
  local line entries allowed=() denied=()
  [ -s "$work/trace" ] || return 1
  while read -r line; do
    if [[ "$line" == ~* ]]; then
      read -ra entries <<<"${line#\~}"
      denied+=("${entries[@]}")
    else
      read -ra entries <<<"$line"
      allowed+=("${entries[@]}")
    fi
  done < <(unit_values SystemCallFilter)
  expand_syscalls "${allowed[@]}" | sort -u >"$work/allowed"
  expand_syscalls "${denied[@]}" | sort -u >"$work/denied"
  perl -ne 'print "$1\n" if /^\d+\s+(?:<\.\.\. )?([a-z0-9_]+)(?:\(| resumed>)/' "$work/trace" |
    sort -u >"$work/used"
  local outside
  outside=$({
    if [ "${#allowed[@]}" -gt 0 ]; then comm -23 "$work/used" "$work/allowed"; fi
    comm -12 "$work/used" "$work/denied"
  } | sort -u)
  [ -z "$outside" ] || echo "        outside SystemCallFilter=: ${outside//$'\n'/ }"
  [ -z "$outside" ]
}
check "every system call it made is allowed by SystemCallFilter=" within_syscall_filter

# Every path it created, opened for writing, renamed, linked or removed, resolved against the
# directory descriptor strace names (-y) or the working directory /.
writes_only_data_dir() {
  local outside
  [ -s "$work/trace" ] || return 1
  outside=$(perl -ne '
    next unless /^\d+\s+(open|openat|openat2|creat|mkdir|mkdirat|rmdir|unlink|unlinkat|rename|renameat|renameat2|link|linkat|symlink|symlinkat|truncate|mknod|mknodat)\((.*)/;
    my ($call, $rest) = ($1, $2);
    next if $call =~ /^open/ && $rest !~ /O_WRONLY|O_RDWR|O_CREAT|O_TRUNC/;
    while ($rest =~ /(?:(?:\d+|AT_FDCWD)<([^>]*)>, )?"([^"]*)"/g) {
      my $path = $2;
      $path = ((defined $1 ? $1 : "") . "/" . $path) unless $path =~ m{^/};
      print "$path\n";
    }' "$work/trace" | grep -v "^$data_dir/" | sort -u)
  [ -z "$outside" ] || echo "        outside the data directory: ${outside//$'\n'/ }"
  [ -z "$outside" ]
}
check "it writes nowhere but its data directory (ReadWritePaths=)" writes_only_data_dir

# ---- the Containerfile --------------------------------------------------------------------------

echo "== $containerfile"
# Instructions one a line, continuation lines joined, comments dropped.
sed -e '/^[[:space:]]*#/d' "$containerfile" | sed -e ':a' -e '/\\$/{N;s/\\\n/ /;ba' -e '}' |
  sed -e 's/[[:space:]]\+/ /g' -e '/^ *$/d' >"$work/instructions"
last_from=$(grep -n '^FROM ' "$work/instructions" | tail -n 1 | cut -d: -f1 || true)
last_from=${last_from:-1}
head -n "$((last_from - 1))" "$work/instructions" >"$work/build_stage"
tail -n "+$last_from" "$work/instructions" >"$work/runtime_stage"

multi_stage_bookworm() {
  [ "$(grep -c '^FROM ' "$work/instructions")" -ge 2 ] &&
    ! grep '^FROM ' "$work/instructions" | grep -vqE '^FROM debian:bookworm(-slim)?( |$)'
}
check "is multi-stage, every stage FROM debian:bookworm" multi_stage_bookworm
builds_release_with_install_deps() {
  grep -q '^RUN .*deploy/install-deps\.sh' "$work/build_stage" &&
    grep -q '^RUN .*cmake .*-DCMAKE_BUILD_TYPE=Release' "$work/build_stage" &&
    ! grep -qE -- '-Werror|HUBMIRROR_WERROR=ON' "$work/build_stage"
}
check "the build stage uses deploy/install-deps.sh and builds a Release without -Werror" \
  builds_release_with_install_deps
runs_unprivileged() {
  [ "$(sed -n 's/^USER //p' "$work/runtime_stage" | tail -n 1)" = hubmirror ] &&
    grep -q '^RUN .*useradd .*hubmirror' "$work/runtime_stage"
}
check "the runtime stage runs as the user hubmirror" runs_unprivileged
for instruction in 'VOLUME /var/lib/hubmirror' 'EXPOSE 8080' 'ENTRYPOINT ["hubmirror"]' \
  'CMD ["serve", "--data", "/var/lib/hubmirror", "--listen", "0.0.0.0:8080"]' \
  'COPY --from=build /src/build/hubmirror /usr/local/bin/hubmirror'; do
  check "has $instruction" has_line "$instruction" "$work/runtime_stage"
done
health_check() {
  grep -qE '^HEALTHCHECK .*CMD curl .*http://127\.0\.0\.1:8080/healthz' "$work/runtime_stage"
}
check "HEALTHCHECK curls http://127.0.0.1:8080/healthz" health_check

# The runtime packages: the words after `apt-get install` in the runtime stage.
sed -n 's/^RUN .*apt-get install \(.*\)/\1/p' "$work/runtime_stage" | sed 's/ *&&.*//' |
  tr ' ' '\n' | { grep -v -e '^-' -e '^$' || true; } | sort -u >"$work/packages"
mapfile -t packages <"$work/packages"
echo "        runtime packages: ${packages[*]}"
check "the runtime stage installs packages" test "${#packages[@]}" -gt 0
known_package() {
  apt-cache show "$1" >/dev/null 2>&1
}
for package in "${packages[@]}"; do
  check "runtime package $package exists (apt-cache show)" known_package "$package"
done
no_dev_packages() {
  ! grep -qE -- '-dev$' "$work/packages" && ! grep -q 'install-deps' "$work/runtime_stage"
}
check "the runtime stage installs no -dev package and no build dependency" no_dev_packages
check "curl, which HEALTHCHECK runs, is a runtime package" grep -qx curl "$work/packages"

# package_of FILE: the Debian package that ships FILE, under its own path, its resolved path, or
# either with /usr added or removed (merged-/usr systems register some under /lib, some /usr/lib).
package_of() {
  local resolved candidate package
  resolved=$(realpath "$1")
  for candidate in "$1" "/usr$1" "${1#/usr}" "$resolved" "/usr$resolved" "${resolved#/usr}"; do
    package=$(dpkg -S "$candidate" 2>/dev/null | grep -v '^diversion' | head -n 1 | cut -d: -f1)
    if [ -n "$package" ]; then
      echo "$package"
      return 0
    fi
  done
  return 1
}
# What the binary names itself (NEEDED) must be listed; what those pull in must be a dependency
# of the listed packages, which apt installs with them.
apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
  --no-replaces --no-enhances "${packages[@]}" 2>/dev/null | grep -v '^ ' | sort -u \
  >"$work/closure" || true
readelf -d "$binary" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' >"$work/needed"
while read -r name path; do
  [ -f "$path" ] || continue
  package=$(package_of "$path") || {
    check "$name: $path belongs to a Debian package" false
    continue
  }
  if grep -qxF "$name" "$work/needed"; then
    check "$name (linked directly) comes from listed package $package" \
      grep -qxF "$package" "$work/packages"
  else
    check "$name comes from $package, a dependency of the listed packages" \
      grep -qxF "$package" "$work/closure"
  fi
done < <(ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3} $1 ~ /^\// {print $1, $1}')

echo
if [ "$failures" -gt 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "all checks passed"
