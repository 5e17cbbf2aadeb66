#!/usr/bin/env bash
# SIGKILL and resume: `mowcheck ingest` on the sample region (with its faulty
# deliveries) is killed with kill -9 after short, varied delays, then run to the end;
# `mowcheck export series` must then be byte-identical to an uninterrupted run's.
set -euo pipefail
bin=${MOWCHECK_BINARY_DIR:?run through ctest}
host=${MOWCHECK_TEST_PGHOST:-}
[ -n "$host" ] || { echo "SKIPPED: MOWCHECK_TEST_PGHOST not set"; exit 77; }
mowcheck=$bin/pipeline/mowcheck
make_sample=$bin/data-samples/generator/mowcheck-make-sample
[ -x "$make_sample" ] || { echo "SKIPPED: no sample generator built"; exit 77; }
work=$(mktemp -d /tmp/mowcheck-test-kill-XXXXXX)
trap 'rm -rf "$work"' EXIT

"$make_sample" --out "$work/region" --with-faults --threads 2 >/dev/null
scenes=$work/region/scenes parcels=$work/region/parcels.gpkg

newdb() {
  dropdb -h "$host" -U postgres --if-exists --force "$1" 2>/dev/null || true
  createdb -h "$host" -U postgres "$1"
  echo "host=$host dbname=$1 user=postgres"
}
ingest() { # db state_dir
  "$mowcheck" ingest --quiet --scenes "$scenes" --parcels "$parcels" --db "$1" \
    --state-dir "$2" --threads 2
}

# the uninterrupted run
whole=$(newdb mowcheck_ingest_kill_whole)
rc=0; ingest "$whole" "$work/state-whole" >"$work/whole.out" 2>&1 || rc=$?
[ "$rc" -eq 1 ] || { echo "uninterrupted ingest: exit $rc, expected 1 (refused scenes)"; cat "$work/whole.out"; exit 1; }
"$mowcheck" export series --db "$whole" --state-dir "$work/state-whole" -o "$work/whole.csv"

# killed again and again, then to the end. mowcheck itself runs in the background
# (not a shell function: kill -9 $! would kill only the subshell around it), and a
# kill counts only when mowcheck died of it (status 137), not when it had finished.
# The whole sample takes about a second once the label cache is warm: short delays.
killed=$(newdb mowcheck_ingest_kill_resumed)
kills=0
for delay in 0.15 0.3 0.5 0.2 0.8 0.35 0.25 1.2 0.4; do
  "$mowcheck" ingest --quiet --scenes "$scenes" --parcels "$parcels" --db "$killed" \
    --state-dir "$work/state-killed" --threads 2 >"$work/killed.out" 2>&1 &
  pid=$!
  sleep "$delay"
  kill -9 "$pid" 2>/dev/null || true
  st=0; wait "$pid" 2>/dev/null || st=$?
  if [ "$st" -eq 137 ]; then kills=$((kills + 1)); fi
done
rc=0; ingest "$killed" "$work/state-killed" >"$work/final.out" 2>&1 || rc=$?
[ "$rc" -le 1 ] || { echo "final ingest: exit $rc"; cat "$work/final.out"; exit 1; }
"$mowcheck" export series --db "$killed" --state-dir "$work/state-killed" -o "$work/killed.csv"

lines=$(wc -l <"$work/whole.csv")
echo "killed mid-run $kills times; uninterrupted export: $lines lines"
failed=0
if [ "$lines" -lt 1000 ]; then echo "FAIL: the uninterrupted export is too short"; failed=1; fi
if [ "$kills" -lt 3 ]; then echo "FAIL: only $kills runs were still going when killed"; failed=1; fi
if cmp -s "$work/whole.csv" "$work/killed.csv"; then
  echo "exports identical"
else
  echo "FAIL: exports differ"; diff "$work/whole.csv" "$work/killed.csv" | head -20; failed=1
fi
dropdb -h "$host" -U postgres --force mowcheck_ingest_kill_whole || true
dropdb -h "$host" -U postgres --force mowcheck_ingest_kill_resumed || true
echo "$((3 - failed)) passed, $failed failed"
exit "$failed"
