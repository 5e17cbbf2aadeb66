#!/usr/bin/env bash
# A real single-node Slurm cluster, started by this test from a generated slurm.conf
# in a temporary folder (munged, slurmctld, slurmd on loopback, no accounting):
# scripts/slurm/submit-nightly submits the sample region as an ingest array (one
# task per tile) plus the follow-up job (detect -> decide -> exports) that waits on
# it with afterok; the decision feed must equal `mowcheck run` in one process on a
# second database. Skips (77) only where Slurm or munge is not installed or the
# daemons refuse to start, saying why. All daemons are stopped at the end.
set -euo pipefail
bin=${MOWCHECK_BINARY_DIR:?run through ctest}
src=${MOWCHECK_SOURCE_DIR:?run through ctest}
host=${MOWCHECK_TEST_PGHOST:-}
[ -n "$host" ] || { echo "SKIPPED: MOWCHECK_TEST_PGHOST not set"; exit 77; }
mowcheck=$bin/pipeline/mowcheck
make_sample=$bin/data-samples/generator/mowcheck-make-sample
registry_bin=$bin/services/registry/mowcheck-registry
for f in "$make_sample" "$registry_bin"; do
  [ -x "$f" ] || { echo "SKIPPED: $f not built"; exit 77; }
done
PATH=$PATH:/usr/sbin:/sbin
for t in munged slurmctld slurmd sbatch squeue scontrol; do
  command -v "$t" >/dev/null ||
    { echo "SKIPPED: $t not found (install Debian's slurm-wlm and munge: scripts/install-deps)"; exit 77; }
done
[ "$(id -u)" -eq 0 ] || { echo "SKIPPED: the test starts slurmd, which needs root"; exit 77; }

work=$(mktemp -d /tmp/mowcheck-test-slurm-XXXXXX)
chmod 755 "$work"
pids=() dbs=()
stop_all() {
  set +e
  if [ -n "${SLURM_CONF:-}" ] && [ -f "$SLURM_CONF" ]; then
    scancel --quiet --full "${array_job:-0}" "${followup_job:-0}" 2>/dev/null
  fi
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill "${pids[i]}" 2>/dev/null; done
  for p in "${pids[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null
  done
  for d in "${dbs[@]}"; do dropdb -h "$host" -U postgres --if-exists --force "$d" 2>/dev/null; done
  if [ "${keep_logs:-0}" = 1 ]; then
    for f in "$work"/log/*.log "$work"/night/*/*.log "$work"/night/*/*.out "$work"/night/*/*.exit; do
      [ -f "$f" ] && { echo "---- $f"; tail -n 30 "$f"; }
    done
  fi
  rm -rf "$work"
}
trap stop_all EXIT
wait_file() { # file seconds
  for _ in $(seq 1 $(($2 * 10))); do [ -s "$1" ] && return 0; sleep 0.1; done
  return 1
}
skip_daemon() { # name log
  echo "SKIPPED: $1 refused to start:"; tail -n 15 "$2" 2>/dev/null || true; exit 77
}

# --- munge, on a socket of its own
mkdir -p "$work/munge" "$work/log" "$work/spool" "$work/state"
chmod 700 "$work/munge"
dd if=/dev/urandom of="$work/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$work/munge/munge.key"
munge_socket=$work/munge/munge.socket
munged --force --key-file="$work/munge/munge.key" --socket="$munge_socket" \
  --pid-file="$work/munge/munged.pid" --log-file="$work/log/munged.log" \
  --seed-file="$work/munge/munged.seed" >"$work/log/munged.out" 2>&1 ||
  skip_daemon munged "$work/log/munged.log"
wait_file "$work/munge/munged.pid" 10 || skip_daemon munged "$work/log/munged.log"
pids+=("$(cat "$work/munge/munged.pid")")

# --- slurm.conf: this machine as the only node, real CPUs and memory
node_line=$(slurmd -C 2>/dev/null | head -n 1) || true
cpus=$(sed -n 's/.*CPUs=\([0-9]*\).*/\1/p' <<<"$node_line")
mem=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$node_line")
cpus=${cpus:-$(nproc)} mem=${mem:-1000}
base=$((20000 + ($$ % 20000)))   # ports of its own, so parallel suites do not meet
cat >"$work/slurm.conf" <<EOF
ClusterName=mowcheck-test
SlurmctldHost=localhost
SlurmctldPort=$base
SlurmdPort=$((base + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$munge_socket
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
ReturnToService=2
MinJobAge=600
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=localhost NodeHostname=localhost CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=night Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$work/slurm.conf

slurmctld -i -f "$SLURM_CONF" >"$work/log/slurmctld.out" 2>&1 || skip_daemon slurmctld "$work/log/slurmctld.log"
wait_file "$work/slurmctld.pid" 20 || skip_daemon slurmctld "$work/log/slurmctld.log"
pids+=("$(cat "$work/slurmctld.pid")")
slurmd -N localhost -f "$SLURM_CONF" >"$work/log/slurmd.out" 2>&1 || skip_daemon slurmd "$work/log/slurmd.log"
wait_file "$work/slurmd.pid" 20 || skip_daemon slurmd "$work/log/slurmd.log"
pids+=("$(cat "$work/slurmd.pid")")
up=0
for _ in $(seq 1 60); do
  state=$(sinfo -h -n localhost -o %T 2>/dev/null | head -n 1 || true)
  case $state in idle|mixed|allocated) up=1; break ;; esac
  sleep 0.5
done
if [ "$up" -ne 1 ]; then
  echo "SKIPPED: the Slurm node did not come up (state '${state:-?}'):"
  tail -n 10 "$work/log/slurmctld.log" "$work/log/slurmd.log" 2>/dev/null; exit 77
fi
echo "slurm: node localhost up ($cpus CPUs, $mem MB) on ports $base/$((base + 1))"

# --- the sample region, the registry, two databases
"$make_sample" --out "$work/region" --with-faults --threads 2 >/dev/null
"$registry_bin" --claims "$work/region/claims.csv" --listen 127.0.0.1:0 \
  --port-file "$work/registry.port" >"$work/log/registry.log" 2>&1 &
pids+=($!)
wait_file "$work/registry.port" 20 || { echo "FAIL: the registry did not start"; cat "$work/log/registry.log"; exit 1; }
registry=http://127.0.0.1:$(cat "$work/registry.port")
newdb() {
  dropdb -h "$host" -U postgres --if-exists --force "$1" 2>/dev/null || true
  createdb -h "$host" -U postgres "$1"
  dbs+=("$1")
}
newdb mowcheck_scale_slurm
newdb mowcheck_scale_one
export MOWCHECK_REGISTRY_USER_ID=EE38001010000
as_of=2026-11-01

# --- the reference: mowcheck run in one process
rc=0
"$mowcheck" run --quiet --scenes "$work/region/scenes" --parcels "$work/region/parcels.gpkg" \
  --registry "$registry" --as-of "$as_of" --threads 2 --state-dir "$work/state-one" \
  --db "host=$host dbname=mowcheck_scale_one user=postgres" >"$work/log/run-one.log" 2>&1 || rc=$?
[ "$rc" -le 1 ] || { echo "FAIL: mowcheck run: exit $rc"; cat "$work/log/run-one.log"; exit 1; }
"$mowcheck" export decisions --db "host=$host dbname=mowcheck_scale_one user=postgres" \
  --state-dir "$work/state-one" -o "$work/decisions-one.csv"

# --- the night through Slurm. A fault is injected: the first ingest of the second
# tile fails (exit 3, "could not run"), so afterok must hold the follow-up back (and
# Slurm cancels it); then --retry-failed re-submits only that task and a new follow-up.
second_tile=$("$mowcheck" ingest --scenes "$work/region/scenes" --list-tiles | sed -n 2p)
{
  echo '#!/usr/bin/env bash'
  echo "if [ \"\$1\" = ingest ] && [[ \" \$* \" == *' --tile $second_tile '* ]] && mkdir '$work/failed-once' 2>/dev/null; then"
  echo "  echo 'mowcheck-flaky: injected failure for tile $second_tile' >&2; exit 3"
  echo "fi"
  echo "exec '$mowcheck' \"\$@\""
} >"$work/mowcheck-flaky"
chmod +x "$work/mowcheck-flaky"
export MOWCHECK_DB="host=$host dbname=mowcheck_scale_slurm user=postgres" \
  MOWCHECK_SCENES=$work/region/scenes MOWCHECK_PARCELS=$work/region/parcels.gpkg \
  MOWCHECK_REGISTRY_URL=$registry MOWCHECK_AS_OF=$as_of MOWCHECK_BIN=$work/mowcheck-flaky \
  MOWCHECK_STATE_DIR=$work/state-slurm MOWCHECK_LOG_ROOT=$work/night MOWCHECK_THREADS=1 \
  MOWCHECK_SLURM_ARGS="--cpus-per-task=1"
keep_logs=1
failed=0 passed=0
check() { # label command...
  local label=$1; shift
  if "$@"; then echo "ok: $label"; passed=$((passed + 1)); else echo "FAIL: $label"; failed=$((failed + 1)); fi
}
wait_jobs() { # job ids: until none is in the queue (bounded: 300 s)
  local ids; ids=$(IFS=,; echo "$*")
  for _ in $(seq 1 600); do
    [ -z "$(squeue -h -j "$ids" -o %i 2>/dev/null)" ] && return 0
    sleep 0.5
  done
  return 1
}
job_states() {
  scontrol show job "$1" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | sed 's/JobState=//' |
    sort | uniq -c | awk '{printf "%s%s %s", (NR > 1 ? " " : ""), $1, $2}'
}
field() { sed -n "s/^$1=//p" <<<"$2"; }

started=$(date +%s)
out=$("$src/scripts/slurm/submit-nightly")
echo "$out"
array_job=$(field array_job "$out") followup_job=$(field followup_job "$out")
log_dir=$(field log_dir "$out") tiles=$(field tiles "$out")
[ -n "$array_job" ] && [ -n "$followup_job" ] || { echo "FAIL: submit-nightly printed no job ids"; exit 1; }
dep=$(scontrol show job "$followup_job" | grep -o 'Dependency=[^ ]*' || true)
check "the follow-up $followup_job waits on the array ($dep)" grep -q "afterok:${array_job}" <<<"$dep"
check "night 1 left the queue within 300 s" wait_jobs "$array_job" "$followup_job"
echo "night 1 after $(($(date +%s) - started)) s: array [$(job_states "$array_job")], follow-up [$(job_states "$followup_job")]"
check "night 1: one task failed, one completed" test "$(job_states "$array_job")" = "1 COMPLETED 1 FAILED"
check "night 1: the follow-up did not run after a failed task" test ! -e "$log_dir/followup.exit"
check "one log per array task" test "$(ls "$log_dir"/ingest-*-*.log 2>/dev/null | wc -l)" -eq "$tiles"

out=$("$src/scripts/slurm/submit-nightly" --retry-failed "$array_job")
echo "$out"
retry_job=$(field array_job "$out") followup_job=$(field followup_job "$out")
check "the retry re-submits only the failed task (tasks=$(field tasks "$out"))" test "$(field tasks "$out")" = 1
check "the retry and its follow-up left the queue within 300 s" wait_jobs "$retry_job" "$followup_job"
echo "retry after $(($(date +%s) - started)) s: array [$(job_states "$retry_job")], follow-up [$(job_states "$followup_job")]"
check "retry: the task and the follow-up completed" \
  test "$(job_states "$retry_job")/$(job_states "$followup_job")" = "1 COMPLETED/1 COMPLETED"
exits=$(cat "$log_dir"/ingest-*.exit 2>/dev/null | tr '\n' ' ')
check "every tile's exit file now says 0 or 1 ($exits)" \
  bash -c "[ \$(ls $log_dir/ingest-*.exit | wc -l) -eq $tiles ] && ! grep -qvx '[01]' $log_dir/ingest-*.exit"
check "the follow-up ran to the end (exit file $(cat "$log_dir/followup.exit" 2>/dev/null || echo missing))" \
  grep -qx '[01]' "$log_dir/followup.exit"
lines=$(wc -l <"$work/decisions-one.csv")
check "mowcheck run decided claims ($lines lines)" test "$lines" -gt 10
if cmp -s "$work/decisions-one.csv" "$log_dir/decisions.csv"; then
  echo "ok: the decision feed through Slurm equals mowcheck run's"; passed=$((passed + 1))
else
  echo "FAIL: the decision feeds differ"; diff "$work/decisions-one.csv" "$log_dir/decisions.csv" | head -20 || true
  failed=$((failed + 1))
fi
scenes_slurm=$(psql -h "$host" -U postgres -d mowcheck_scale_slurm -At -c "SELECT count(*) FROM scenes")
scenes_one=$(psql -h "$host" -U postgres -d mowcheck_scale_one -At -c "SELECT count(*) FROM scenes")
check "the same scenes stored ($scenes_slurm and $scenes_one)" test "$scenes_slurm" -eq "$scenes_one"

[ "$failed" -eq 0 ] && keep_logs=0
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
