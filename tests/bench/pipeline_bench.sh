#!/usr/bin/env bash
# pipeline_bench.sh <build dir> [PATH] — the whole pipeline (unpack, then copyright, license and
# mimetype) through a real scheduler on a private PostgreSQL, with at most 1 and then 2 agents
# per type (the agent confs' `max`), on PATH (default /usr/share/doc). Each width starts from an
# empty database and repository. Prints files, each step's items/s and the job's files/s.
# Not a test: figures vary with the machine; compare widths within one run.
set -euo pipefail
build=$(realpath "$1")
path=$(realpath "${2:-/usr/share/doc}")
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
work=$(mktemp -d /tmp/jl-pipeline-XXXXXX)
cleanup() {
  [[ -f "$work/sched.pid" ]] && kill "$(cat "$work/sched.pid")" 2>/dev/null || true
  "$src/tests/fixtures/pg_cluster.sh" stop "$work/pg" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
[[ -n "${KEEP:-}" ]] && trap - EXIT

printf '%-6s %-10s %8s %9s %10s\n' width step items seconds items/s
for width in 1 2; do
  "$src/tests/fixtures/pg_cluster.sh" start "$work/pg" >/dev/null
  read -r host port < <(sed -n 's/^host=\([^ ]*\) port=\([0-9]*\).*/\1 \2/p' "$work/pg/conninfo")
  conninfo="host=$host port=$port user=postgres dbname=jobline"
  rm -rf "$work/conf" "$work/repository" && cp -r "$build/conf" "$work/conf"
  mkdir -p "$work/run" "$work/log" && chmod 0750 "$work/run"
  sed -i -e "s|^socket = .*|socket = $work/run/scheduler.sock|" -e "s|^log_dir = .*|log_dir = $work/log|" \
    -e "s|^port = .*|port = $((20000 + RANDOM % 20000))|" "$work/conf/scheduler.conf"
  for agent in unpack copyright license mimetype; do
    sed -i "s/^max = .*/max = $width/" "$work/conf/agents/$agent.conf"
  done
  # Db.conf: the scheduler, jobctl and the agents (which connect themselves) read it.
  printf 'host=%s;\nport=%s;\nuser=postgres;\ndbname=jobline;\n' "$host" "$port" >"$work/conf/Db.conf"
  jobctl=("$build/jobctl/jobctl" -c "$work/conf")
  "${jobctl[@]}" db init >/dev/null
  JOBLINE_REPOSITORY="$work/repository" "$build/scheduler/scheduler" -c "$work/conf" \
    -L "$work/scheduler.log" &
  echo $! >"$work/sched.pid"
  for _ in $(seq 100); do "${jobctl[@]}" load >/dev/null 2>&1 && break; sleep 0.1; done
  job=$("${jobctl[@]}" --json upload "$path" | python3 -c 'import json,sys; print(json.load(sys.stdin)["job"])')
  "${jobctl[@]}" watch "$job" >/dev/null || echo "job $job: a step failed (see $work/scheduler.log)"
  psql -X -qAt -F ' ' -d "$conninfo" -c "
    SELECT jq_type, jq_itemsprocessed, round(extract(epoch FROM jq_endtime - jq_starttime)::numeric, 2),
           round(jq_itemsprocessed / greatest(extract(epoch FROM jq_endtime - jq_starttime), 0.001)::numeric)
      FROM jobqueue WHERE jq_job_fk = $job ORDER BY jq_pk" |
    while read -r step items seconds rate; do
      printf '%-6s %-10s %8s %9s %10s\n' "$width" "$step" "$items" "$seconds" "$rate"
    done
  psql -X -qAt -F ' ' -d "$conninfo" -c "
    SELECT (SELECT count(*) FROM uploadtree WHERE pfile_fk IS NOT NULL),
           round(extract(epoch FROM max(jq_endtime) - min(jq_starttime))::numeric, 2)
      FROM jobqueue WHERE jq_job_fk = $job" | {
    read -r files seconds
    printf '%-6s %-10s %8s %9s %10s\n' "$width" "pipeline" "$files" "$seconds" \
      "$(python3 -c "print(round($files / max($seconds, 0.001)))")"
  }
  kill "$(cat "$work/sched.pid")" && wait "$(cat "$work/sched.pid")" 2>/dev/null || true
  rm -f "$work/sched.pid"
  "$src/tests/fixtures/pg_cluster.sh" stop "$work/pg" >/dev/null
done
