#!/usr/bin/env bash
# Scale-out without Slurm: four `mowcheck ingest --tile ...` processes started at
# once against one PostgreSQL (35VLF twice, 35VMF twice: the claim lock decides who
# stores each scene) must leave exactly what one sequential run leaves: the same
# `mowcheck export series` byte for byte and the same row counts of scenes and
# observation_parts. Then a worker is killed with SIGKILL mid-scene and run again:
# still identical. Both runs leave one observation_parts leaf per season and tile,
# each row in its own.
set -euo pipefail
bin=${MOWCHECK_BINARY_DIR:?run through ctest}
host=${MOWCHECK_TEST_PGHOST:-}
[ -n "$host" ] || { echo "SKIPPED: MOWCHECK_TEST_PGHOST not set"; exit 77; }
mowcheck=$bin/pipeline/mowcheck
make_sample=$bin/data-samples/generator/mowcheck-make-sample
[ -x "$make_sample" ] || { echo "SKIPPED: no sample generator built"; exit 77; }
work=$(mktemp -d /tmp/mowcheck-test-scale-XXXXXX)
dbs=()
cleanup() {
  for d in "${dbs[@]}"; do dropdb -h "$host" -U postgres --if-exists --force "$d" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

"$make_sample" --out "$work/region" --with-faults --threads 2 >/dev/null
scenes=$work/region/scenes parcels=$work/region/parcels.gpkg
mapfile -t tiles < <("$mowcheck" ingest --scenes "$scenes" --list-tiles)
[ "${#tiles[@]}" -eq 2 ] || { echo "FAIL: expected 2 tiles in the sample, got: ${tiles[*]}"; exit 1; }
t1=${tiles[0]} t2=${tiles[1]}

newdb() {
  dropdb -h "$host" -U postgres --if-exists --force "$1" 2>/dev/null || true
  createdb -h "$host" -U postgres "$1"
  dbs+=("$1")
}
dsn() { echo "host=$host dbname=$1 user=postgres"; }
ingest() { # db state_dir tile-args...
  local db=$1 state=$2; shift 2
  "$mowcheck" ingest --quiet --scenes "$scenes" --parcels "$parcels" --db "$(dsn "$db")" \
    --state-dir "$state" --threads 1 "$@"
}
# in the background: `bg_ingest ... &` so that $! is mowcheck itself (exec), not a subshell;
# not --quiet: the summary line says how many scenes each worker stored
bg_ingest() { local db=$1 state=$2; shift 2
  exec "$mowcheck" ingest --scenes "$scenes" --parcels "$parcels" --db "$(dsn "$db")" \
    --state-dir "$state" --threads 1 "$@"
}
counts() { # db -> "scenes=N parts=M"
  psql -h "$host" -U postgres -d "$1" -At -c \
    "SELECT 'scenes=' || (SELECT count(*) FROM scenes) || ' parts=' || (SELECT count(*) FROM observation_parts) || ' sum_n_valid=' || (SELECT coalesce(sum(n_valid),0) FROM observation_parts) || ' sum_q=' || (SELECT coalesce(sum(sum_q),0) FROM observation_parts)"
}
export_series() { # db state_dir out
  "$mowcheck" export series --db "$(dsn "$1")" --state-dir "$2" -o "$3"
}
failed=0 passed=0
check_same() { # label db state
  export_series "$2" "$3" "$work/$2.csv"
  local c; c=$(counts "$2")
  if cmp -s "$work/seq.csv" "$work/$2.csv" && [ "$c" = "$seq_counts" ]; then
    echo "ok: $1: export identical, $c"; passed=$((passed + 1))
  else
    echo "FAIL: $1: counts '$c' vs '$seq_counts'"
    diff "$work/seq.csv" "$work/$2.csv" | head -10 || true
    failed=$((failed + 1))
  fi
}

# observation_parts is partitioned by season and tile (schemas/004): one leaf per
# season of the scene folders' names and tile, each row in its own season-tile leaf
mapfile -t seasons < <(ls "$scenes" | sed -n 's/^S2[AB]_[0-9A-Z]*_\([0-9]\{4\}\)[0-9]\{4\}_.*/\1/p' | sort -u)
want_leaves=$(for y in "${seasons[@]}"; do for t in "$t1" "$t2"; do
  echo "observation_parts_${y}_${t,,}"; done; done | sort | paste -sd,)
check_partitions() { # label db
  local leaves misplaced
  leaves=$(psql -h "$host" -U postgres -d "$2" -At -c "SELECT string_agg(relid::text, ','
    ORDER BY relid::text) FROM pg_partition_tree('observation_parts') WHERE isleaf")
  misplaced=$(psql -h "$host" -U postgres -d "$2" -At -c "SELECT count(*) FROM observation_parts
    WHERE tableoid::regclass::text <> 'observation_parts_' || extract(year FROM acquired_on)
          || '_' || lower(tile_id)")
  if [ "$leaves" = "$want_leaves" ] && [ "$misplaced" = 0 ]; then
    echo "ok: $1: partitions $leaves"; passed=$((passed + 1))
  else
    echo "FAIL: $1: partitions '$leaves' (want '$want_leaves'), $misplaced rows in another leaf"
    failed=$((failed + 1))
  fi
}

# the sequential run: one process, all tiles
newdb mowcheck_scale_seq
rc=0; ingest mowcheck_scale_seq "$work/state-seq" >"$work/seq.out" 2>&1 || rc=$?
[ "$rc" -le 1 ] || { echo "sequential ingest: exit $rc"; cat "$work/seq.out"; exit 1; }
export_series mowcheck_scale_seq "$work/state-seq" "$work/seq.csv"
seq_counts=$(counts mowcheck_scale_seq)
lines=$(wc -l <"$work/seq.csv")
echo "sequential: $seq_counts, export $lines lines"
if [ "$lines" -lt 1000 ]; then echo "FAIL: the sequential export is too short"; failed=$((failed + 1)); fi
check_partitions "sequential" mowcheck_scale_seq

# four workers at once, one shared state folder (as on a shared file system)
newdb mowcheck_scale_par
pids=()
for t in "$t1" "$t2" "$t1" "$t2,$t1"; do
  bg_ingest mowcheck_scale_par "$work/state-par" --tile "$t" >"$work/par-$t-${#pids[@]}.out" 2>&1 &
  pids+=($!)
done
bad=0
for p in "${pids[@]}"; do rc=0; wait "$p" || rc=$?; [ "$rc" -le 1 ] || bad=1; done
if [ "$bad" -ne 0 ]; then echo "FAIL: a concurrent worker exited > 1"; cat "$work"/par-*.out; failed=$((failed + 1)); fi
# each scene was stored by exactly one worker: the "ingested" counts add up to the scenes
stored=$(grep -ho '[0-9]* ingested' "$work"/par-*.out 2>/dev/null | awk '{s += $1} END {print s + 0}')
want=$(psql -h "$host" -U postgres -d mowcheck_scale_par -At -c "SELECT count(*) FROM scenes")
if [ -n "$stored" ] && [ "$stored" != 0 ] && [ "$stored" != "$want" ]; then
  echo "FAIL: workers report $stored scenes ingested, the database holds $want"; failed=$((failed + 1))
fi
check_same "four concurrent workers ($t1, $t2, $t1, $t2+$t1)" mowcheck_scale_par "$work/state-par"
check_partitions "four concurrent workers, partitions made on the way" mowcheck_scale_par

# One of two concurrent workers is killed with SIGKILL mid-scene. To be sure the kill
# lands inside a scene's transaction (a sample scene takes milliseconds), a session
# holds observation_parts in SHARE mode: both workers claim a scene, insert it and
# then wait on their COPY, which is where the victim dies. Then the lock goes, the
# other worker finishes, and the victim's tile is run again.
# The season-tile partitions of observation_parts are made first, as a tile's first
# scene of the season makes them (schemas/004): making one needs the lock held here,
# and the workers are to wait on their COPY, not before their transaction.
newdb mowcheck_scale_kill
psql_kill() { psql -h "$host" -U postgres -d mowcheck_scale_kill -At -c "$1" 2>/dev/null; }
export_series mowcheck_scale_kill "$work/state-kill" "$work/empty.csv"  # creates the schema
for y in "${seasons[@]}"; do
  for t in "$t1" "$t2"; do
    psql_kill "SELECT observation_parts_partition(date '$y-01-01', '$t')" >/dev/null
  done
done
mkfifo "$work/lock.fifo"
psql -h "$host" -U postgres -d mowcheck_scale_kill -q <"$work/lock.fifo" >"$work/lock.out" 2>&1 &
locker=$!
exec 7>"$work/lock.fifo"
echo "BEGIN; LOCK TABLE observation_parts IN SHARE MODE; SELECT 'locked';" >&7
bg_ingest mowcheck_scale_kill "$work/state-kill" --tile "$t2" >"$work/kill-other.out" 2>&1 &
other=$!
bg_ingest mowcheck_scale_kill "$work/state-kill" --tile "$t1" >"$work/kill-victim.out" 2>&1 &
victim=$!
waiting=0
for _ in $(seq 1 600); do
  waiting=$(psql_kill "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
                       AND wait_event_type = 'Lock' AND query ILIKE 'COPY%'" || echo 0)
  [ "${waiting:-0}" -ge 2 ] && break
  sleep 0.1
done
killed=0
if [ "${waiting:-0}" -ge 2 ] && kill -9 "$victim" 2>/dev/null; then killed=1; fi
wait "$victim" 2>/dev/null || true
in_flight=$(psql_kill "SELECT count(*) FROM scenes WHERE tile_id = '$t1'")
echo "COMMIT;" >&7
exec 7>&-
wait "$locker" || true
wait "$other" || true
# the killed worker's backend goes when it finds its client gone; its claim with it
for _ in $(seq 1 100); do
  [ "$(psql_kill "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
                  AND pid <> pg_backend_pid()")" = 0 ] && break
  sleep 0.1
done
partial=$(psql_kill "SELECT count(*) FROM scenes WHERE tile_id = '$t1'")
rc=0; ingest mowcheck_scale_kill "$work/state-kill" --tile "$t1" >"$work/kill-again.out" 2>&1 || rc=$?
[ "$rc" -le 1 ] || { echo "FAIL: re-run after the kill: exit $rc"; cat "$work/kill-again.out"; failed=$((failed + 1)); }
echo "killed the $t1 worker inside a scene transaction: $killed (workers waiting on COPY: $waiting;" \
  "$t1 scenes visible before/after the kill: $in_flight/$partial)"
if [ "$killed" -ne 1 ] || [ "$partial" -ne 0 ]; then
  echo "FAIL: the worker was not killed mid-scene, or its scene survived"; failed=$((failed + 1))
fi
check_same "SIGKILL mid-scene, then again" mowcheck_scale_kill "$work/state-kill"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
