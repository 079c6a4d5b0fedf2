#!/usr/bin/env bash
# package_test.sh <workdir>: the Debian packages, end to end (docs/packaging.md).
#
# Builds the packages (dpkg-buildpackage -us -uc -b on a copy of the source in
# <workdir>/src, with ccache), runs lintian (errors fail), installs them with apt-get, checks
# the files and the `jobline` user, verifies the systemd unit, creates a database on a
# private PostgreSQL cluster (scheduler --init-db), self-tests the installed agents as the
# service's user (scheduler -t), starts the installed scheduler with the unit's ExecStart
# (systemd is not PID 1 in containers and CI), rotates its log with the installed logrotate
# config (HUP), uploads a small tree with jobctl and watches it complete, stops the
# scheduler, and purges everything again. Used by `./run package` and the CTest test
# `package`. Needs root: exits 77 (skipped) otherwise.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SOURCE=$(cd "$HERE/../.." && pwd)
WORK=${1:?usage: package_test.sh <workdir>}
PACKAGES=(jobline-scheduler jobline-web jobline-agents libagent1 libagent-dev)
UNIT=/lib/systemd/system/jobline-scheduler.service
WEB_UNIT=/lib/systemd/system/jobline-web.service
START=$SECONDS

step() { printf '\n==> [%3ds] %s\n' "$((SECONDS - START))" "$*"; }
fail() {
  printf 'package_test: FAIL: %s\n' "$*" >&2
  exit 1
}

if [[ $(id -u) -ne 0 ]]; then
  echo "package_test: SKIPPED: needs root (installs and purges Debian packages, creates the" \
    "jobline user); run it as root, as CI does" >&2
  exit 77
fi

export DEBIAN_FRONTEND=noninteractive
APT=(apt-get -y -q -o DPkg::Lock::Timeout=300)
USER_EXISTED=0
getent passwd jobline >/dev/null && USER_EXISTED=1
SCHED_PID=""
WEB_PID=""
PG_STATE="$WORK/pg"

purge() {
  local installed=()
  for p in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [[ "$status" == *"ok installed" || "$status" == *config-files ]] && installed+=("$p")
  done
  if ((${#installed[@]})); then "${APT[@]}" purge "${installed[@]}" >/dev/null; fi
  rm -f /etc/jobline/Db.conf
  rmdir /etc/jobline 2>/dev/null || true
  rm -rf /run/jobline
}

cleanup() {
  local rc=$?
  set +e
  [[ -n "$WEB_PID" ]] && kill -TERM -- "-$WEB_PID" 2>/dev/null
  if [[ -n "$SCHED_PID" ]] && kill -0 "$SCHED_PID" 2>/dev/null; then
    kill -QUIT "$SCHED_PID"
    for _ in $(seq 50); do kill -0 "$SCHED_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SCHED_PID" 2>/dev/null
  fi
  "$SOURCE/tests/fixtures/pg_cluster.sh" stop "$PG_STATE" >/dev/null 2>&1
  purge
  # The package leaves its system user (Debian's practice); the test removes it when it
  # created it, so that a run leaves the machine as it found it.
  if ((USER_EXISTED == 0)) && getent passwd jobline >/dev/null; then
    deluser --system --quiet jobline >/dev/null 2>&1
    getent group jobline >/dev/null && delgroup --system --quiet jobline >/dev/null 2>&1
  fi
  exit "$rc"
}
trap cleanup EXIT

step "Leftovers of an earlier run"
purge
mkdir -p "$WORK"

step "Building the packages in ${WORK}/src (dpkg-buildpackage -us -uc -b, ccache)"
# A fixed path, so that ccache hits on the next run (CCACHE_BASEDIR makes paths relative).
rm -rf "$WORK/src" "$WORK"/*.deb "$WORK"/*.ddeb "$WORK"/*.buildinfo "$WORK"/*.changes
mkdir -p "$WORK/src"
tar -C "$SOURCE" --exclude=./build --exclude='./build-*' --exclude=./.git --exclude=./.cache \
  -cf - . | tar -C "$WORK/src" -xf -
(
  cd "$WORK/src"
  # dh (compat 13) points HOME at a temporary directory: name ccache's cache explicitly.
  CCACHE_DIR=${CCACHE_DIR:-$(ccache -k cache_dir 2>/dev/null || echo "$HOME/.cache/ccache")}
  export CCACHE_DIR CCACHE_BASEDIR="$WORK" CCACHE_NOHASHDIR=1
  DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)"
  export DEB_BUILD_OPTIONS
  export DEB_CMAKE_EXTRA_FLAGS="-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache"
  dpkg-buildpackage -us -uc -b >"$WORK/build.log" 2>&1 ||
    { tail -n 40 "$WORK/build.log" >&2; fail "dpkg-buildpackage failed (log: $WORK/build.log)"; }
)
ls "$WORK"/*.deb

step "lintian (errors fail the test)"
changes=$(ls "$WORK"/jobline_*.changes)
lintian --fail-on error --tag-display-limit 0 "$changes" | tee "$WORK/lintian.txt" ||
  fail "lintian reported errors"

step "Installing: apt-get install ./*.deb"
"${APT[@]}" install "$WORK"/*.deb >/dev/null
for f in /usr/sbin/scheduler /usr/bin/jobctl /etc/jobline/scheduler.conf "$UNIT" \
  /etc/logrotate.d/jobline-scheduler /usr/lib/jobline/agents /etc/jobline/agents \
  /usr/bin/jobline-web "$WEB_UNIT"; do
  [[ -e "$f" ]] || fail "$f is not installed"
done
for f in /usr/lib/*/libagent.so /usr/lib/*/pkgconfig/libagent.pc \
  /usr/lib/*/cmake/libagent/libagentConfig.cmake /usr/include/agent; do
  compgen -G "$f" >/dev/null || fail "$f is not installed"
done
getent passwd jobline >/dev/null || fail "the jobline user was not created"
for d in /var/log/jobline /var/lib/jobline; do
  [[ $(stat -c %U:%G "$d") == jobline:jobline ]] || fail "$d is not owned by jobline"
done
[[ $(dpkg-query -W -f='${Conffiles}' jobline-scheduler) == *" /etc/jobline/scheduler.conf "* ]] ||
  fail "/etc/jobline/scheduler.conf is not a conffile"
pkg-config --exists libagent || fail "pkg-config does not find libagent"
# The man pages are checked in the packages: images may exclude /usr/share/man (dpkg path-exclude).
for page in jobline-scheduler:man8/scheduler.8.gz jobline-scheduler:man1/jobctl.1.gz \
  jobline-web:man1/jobline-web.1.gz; do
  contents=$(dpkg-deb -c "$WORK/${page%%:*}"_*.deb) # (grep -q in a pipe: SIGPIPE, pipefail)
  grep -q "usr/share/man/${page#*:}" <<<"$contents" ||
    fail "${page%%:*} has no ${page#*:}"
done
# libagent-dev: an agent builds against the installed library, with pkg-config and CMake.
read -r -a agent_flags <<<"$(pkg-config --cflags --libs libagent)"
c++ -std=c++20 -o "$WORK/example-agent" "$SOURCE/agents/example/example.cpp" "${agent_flags[@]}" || fail "the example agent does not build with libagent.pc"
[[ $("$WORK/example-agent" hello 2>&1) == *"hello has 5 bytes"* ]] || fail "the example agent built on libagent1 does not run"
mkdir -p "$WORK/cmake-check"
printf 'cmake_minimum_required(VERSION 3.25)\nproject(check CXX)\nfind_package(libagent REQUIRED)\nadd_executable(example %s)\ntarget_link_libraries(example PRIVATE libagent::agent)\n' \
  "$SOURCE/agents/example/example.cpp" >"$WORK/cmake-check/CMakeLists.txt"
cmake -S "$WORK/cmake-check" -B "$WORK/cmake-check/build" >/dev/null ||
  fail "find_package(libagent) fails with the installed CMake package"
echo "libagent-dev: pkg-config and find_package(libagent) work"

step "systemd-analyze verify"
if command -v systemd-analyze >/dev/null; then
  for unit in "$UNIT" "$WEB_UNIT"; do
    out=$(SYSTEMD_LOG_LEVEL=warning systemd-analyze verify "$unit" 2>&1) || {
      echo "$out" >&2
      fail "systemd-analyze verify $unit"
    }
    [[ -z "$out" ]] || { echo "$out" >&2; fail "systemd-analyze verify $unit printed warnings"; }
    echo "$unit: ok"
  done
else
  echo "systemd-analyze is not installed: not verified"
fi

step "A database: private cluster, then scheduler --init-db"
"$SOURCE/tests/fixtures/pg_cluster.sh" start "$PG_STATE"
read -r host port < <(sed -n 's/^host=\([^ ]*\) port=\([0-9]*\).*/\1 \2/p' "$PG_STATE/conninfo")
chmod 0755 "$host" # the socket's dir: reachable by the jobline user too
psql -X -q -v ON_ERROR_STOP=1 -d "$(cat "$PG_STATE/conninfo")" -c 'CREATE DATABASE jobline'
conninfo="host=$host port=$port user=postgres dbname=jobline"
/usr/sbin/scheduler --init-db --db "$conninfo"
# What an administrator does (docs/packaging.md): Db.conf, readable by the service only.
printf 'host=%s;\nport=%s;\nuser=postgres;\ndbname=jobline;\n' "$host" "$port" >/etc/jobline/Db.conf
chown root:jobline /etc/jobline/Db.conf
chmod 0640 /etc/jobline/Db.conf

step "scheduler -t against the installed agents, as the jobline user"
runuser -u jobline -- /usr/sbin/scheduler -c /etc/jobline -t | tee "$WORK/selftest.txt" ||
  fail "scheduler -t: an installed agent failed its self-test"
grep -q '^PASS ' "$WORK/selftest.txt" || fail "scheduler -t tested no agent"

step "Starting the installed scheduler with the unit's ExecStart (as User=jobline)"
exec_start=$(sed -n 's/^ExecStart=//p' "$UNIT")
read -r -a argv <<<"$exec_start"
# What systemd would do first: RuntimeDirectory=, LogsDirectory=, StateDirectory=.
install -d -o jobline -g jobline -m 0750 /run/jobline
# The conf's port (24693) may be taken on a shared machine: a free one instead.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ctl_port=$(free_port)
echo "\$ ${argv[*]} -p $ctl_port"
setsid runuser -u jobline -- "${argv[@]}" -p "$ctl_port" </dev/null >"$WORK/scheduler.out" 2>&1 &
for _ in $(seq 100); do
  [[ -s /run/jobline/scheduler.pid && -S /run/jobline/scheduler.sock ]] && break
  sleep 0.1
done
[[ -s /run/jobline/scheduler.pid ]] || { cat "$WORK/scheduler.out" >&2; fail "no pidfile"; }
SCHED_PID=$(cat /run/jobline/scheduler.pid)
[[ $(stat -c %U "/proc/$SCHED_PID") == jobline ]] || fail "the scheduler does not run as jobline"
jobctl status

step "logrotate with the installed config: HUP reopens the log"
if command -v logrotate >/dev/null; then
  # The log may be empty at verbosity 0 (and `notifempty` skips an empty log): a marker line.
  runuser -u jobline -- sh -c 'echo "package test: before rotation" >>/var/log/jobline/scheduler.log'
  logrotate -f -s "$WORK/logrotate.state" /etc/logrotate.d/jobline-scheduler
  [[ -f /var/log/jobline/scheduler.log.1 ]] || fail "logrotate did not rotate scheduler.log"
  # The HUP makes the scheduler reopen its log: its descriptor then names the new file.
  reopened=0
  for _ in $(seq 100); do
    if [[ $'\n'$(ls -l "/proc/$SCHED_PID/fd")$'\n' == *" /var/log/jobline/scheduler.log"$'\n'* ]]; then
      reopened=1
      break
    fi
    sleep 0.1
  done
  ((reopened)) || fail "the scheduler did not reopen its log after logrotate's HUP"
  kill -0 "$SCHED_PID" || fail "the scheduler died on HUP"
  echo "rotated and reopened; the scheduler is still running"
else
  echo "logrotate is not installed: not checked"
fi

step "jobctl upload through the installed service"
tree=/usr/share/jobline/sql # installed by the package (and never path-excluded, unlike docs)
if jobctl --json agents | python3 -c 'import json,sys; sys.exit(0 if any(a.get("default") for a in json.load(sys.stdin)) else 1)' 2>/dev/null; then
  jobctl --json upload "$tree" | tee "$WORK/upload.json"
else
  # No shipped agent has a default pipeline yet: name the agents that have a plugin.
  mapfile -t agents < <(jobctl --json agents | python3 -c 'import json,sys; [print(a["agent"]) for a in json.load(sys.stdin) if a.get("plugin") is not None]')
  if ((${#agents[@]} == 0)); then
    echo "no installed agent has a [plugin] group: queueing the example agent by hand"
    jobctl --json queue example --args "$tree" | tee "$WORK/upload.json"
  else
    jobctl --json upload "$tree" "${agents[@]/#/--agent=}" | tee "$WORK/upload.json"
  fi
fi
job=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["job"])' "$WORK/upload.json")
timeout 180 jobctl watch "$job" --interval 500 || {
  jobctl jobs --job "$job" >&2
  fail "job $job did not complete"
}
jobctl jobs --job "$job"

step "Starting the installed jobline-web with its unit's ExecStart (as User=jobline)"
read -r -a web_argv <<<"$(sed -n 's/^ExecStart=//p' "$WEB_UNIT")"
web_port=$(free_port)
echo "\$ ${web_argv[*]} -p $web_port"
setsid runuser -u jobline -- "${web_argv[@]}" -p "$web_port" </dev/null >"$WORK/web.out" 2>&1 &
WEB_PID=$!
page=""
for _ in $(seq 100); do
  page=$(python3 -c 'import sys,urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' \
    "http://127.0.0.1:$web_port/" 2>/dev/null) && break
  sleep 0.1
done
[[ "$page" == *"<html"* ]] || { cat "$WORK/web.out" >&2; fail "jobline-web does not serve its page"; }
echo "jobline-web serves http://127.0.0.1:$web_port/"
kill -TERM -- "-$WEB_PID"
wait "$WEB_PID" 2>/dev/null || true
WEB_PID=""

step "Stopping the scheduler (TERM, as systemd does)"
kill -TERM "$SCHED_PID"
for _ in $(seq 300); do kill -0 "$SCHED_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$SCHED_PID" 2>/dev/null && fail "the scheduler did not stop on TERM within 30 s"
SCHED_PID=""

step "Purging"
"$SOURCE/tests/fixtures/pg_cluster.sh" stop "$PG_STATE" >/dev/null
purge
for f in /usr/sbin/scheduler /usr/bin/jobctl /etc/jobline /var/log/jobline /var/lib/jobline \
  /usr/lib/jobline /usr/bin/jobline-web "$UNIT" "$WEB_UNIT"; do
  [[ ! -e "$f" ]] || fail "$f is left after the purge"
done
echo "package test passed in $((SECONDS - START)) s"
