#!/usr/bin/env bash
# The sample night end to end (make the sample region, the bundled registry, `mowcheck
# run` on a fresh database), then:
#  1. approvals against the generator's truth: no claim is approved whose parcel the
#     sample did not mow inside the claim's window (a wrong approval pays for work not
#     done); the share of claims approved among those whose parcel was mowed inside
#     the window is printed;
#  2. `mowcheck decide --series --claims` (offline, no database, no registry) on the
#     exported series and the sample's claims gives every stored claim the same
#     outcome and reason as the stored path; where the stored decision knows from the
#     parcel file that the parcel cannot be observed (too small, refused geometry, an
#     overlap: reason_json's "unobservable"), which a series cannot say, the outcome;
#  3. after `detect --model OTHER`, a plain `decide` (the default model's threshold) is
#     refused with exit 2, naming both models; `decide --model OTHER` runs.
set -euo pipefail
bin=${MOWCHECK_BINARY_DIR:?run through ctest}
host=${MOWCHECK_TEST_PGHOST:-}
[ -n "$host" ] || { echo "SKIPPED: MOWCHECK_TEST_PGHOST not set"; exit 77; }
mowcheck=$bin/pipeline/mowcheck
registry_bin=$bin/services/registry/mowcheck-registry
make_sample=$bin/data-samples/generator/mowcheck-make-sample
[ -x "$make_sample" ] || { echo "SKIPPED: no sample generator built"; exit 77; }
work=$(mktemp -d /tmp/mowcheck-test-night-XXXXXX)
db=mowcheck_test_night_$$
registry_pid=
cleanup() {
  [ -z "$registry_pid" ] || kill "$registry_pid" 2>/dev/null || true
  dropdb -h "$host" -U postgres --if-exists --force "$db" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
createdb -h "$host" -U postgres "$db"
dsn="host=$host dbname=$db user=postgres"

"$make_sample" --out "$work/region" --threads 2 >/dev/null
"$registry_bin" --claims "$work/region/claims.csv" --listen 127.0.0.1:0 \
  --port-file "$work/port" >"$work/registry.log" 2>&1 &
registry_pid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.1; done
registry=http://127.0.0.1:$(cat "$work/port")

set +e
"$mowcheck" run --quiet --db "$dsn" --state-dir "$work/state" --scenes "$work/region/scenes" \
  --parcels "$work/region/parcels.gpkg" --registry "$registry" --registry-user-id EE38001010000 \
  --as-of 2026-11-01 >"$work/run.log" 2>&1
status=$?
set -e
[ "$status" -le 1 ] || { echo "FAIL: run exited $status"; cat "$work/run.log"; exit 1; }
"$mowcheck" export decisions --db "$dsn" --state-dir "$work/state" -o "$work/stored.csv"
"$mowcheck" export series --db "$dsn" --state-dir "$work/state" -o "$work/series.csv"
"$mowcheck" decide --series "$work/series.csv" --claims "$work/region/claims.csv" \
  -o "$work/offline.csv" --as-of 2026-11-01 >/dev/null
psql -h "$host" -U postgres -d "$db" -At -c "SELECT claim_id FROM decisions
  WHERE is_current AND reason_json ? 'unobservable'" >"$work/unobservable.txt"

python3 - "$work/region/truth.csv" "$work/region/claims.csv" "$work/stored.csv" \
  "$work/offline.csv" "$work/unobservable.txt" <<'PY'
import csv, sys
unobservable = set(open(sys.argv[5]).read().split())
truth = {r["parcel_id"]: [d for d in r["mowing_dates"].split(";") if d]
         for r in csv.DictReader(open(sys.argv[1]))}
claims = {r["claim_id"]: r for r in csv.DictReader(open(sys.argv[2]))}
stored = {r["claim_id"]: r for r in csv.DictReader(open(sys.argv[3]))}
offline = {r["claim_id"]: r for r in csv.DictReader(open(sys.argv[4]))}
failed = 0
mowed_in_window = approved_right = approved_wrong = 0
for cid, d in stored.items():
    c = claims[cid]
    cuts = [x for x in truth.get(c["parcel_id"], []) if c["window_start"] <= x <= c["window_end"]]
    enough = len(cuts) >= int(c["min_mowings"])
    mowed_in_window += enough
    if d["outcome"] == "approved":
        if enough:
            approved_right += 1
        else:
            approved_wrong += 1
            print(f"FAIL: claim {cid} approved, but parcel {c['parcel_id']} was mowed "
                  f"{len(cuts)} times inside {c['window_start']}..{c['window_end']} "
                  f"({c['min_mowings']} required)")
failed += approved_wrong > 0
print(f"sample night: {approved_right} of {mowed_in_window} claims whose parcel was mowed "
      f"inside the window approved automatically; {approved_wrong} wrong approvals")
same = 0
for cid, d in stored.items():
    o = offline.get(cid)
    same_reason = cid in unobservable or (o is not None and o["reason"] == d["reason"])
    if o is None or o["outcome"] != d["outcome"] or not same_reason:
        failed += 1
        print(f"FAIL: claim {cid}: stored {d['outcome']}: {d['reason']}\n"
              f"      offline {o and o['outcome']}: {o and o['reason']}")
    else:
        same += 1
print(f"offline decide: {same} of {len(stored)} stored decisions identical "
      f"({len(unobservable)} unobservable parcels compared by outcome)")
if not stored or failed:
    sys.exit(1)
print("ok")
PY

src=${MOWCHECK_SOURCE_DIR:?run through ctest}
"$mowcheck" train --kind logistic --series "$src/data-samples/mowing-train/series.csv" \
  --labels "$src/data-samples/mowing-train/labels.csv" --model-out "$work/other.model" 2>/dev/null
common=(--db "$dsn" --state-dir "$work/state")
"$mowcheck" detect "${common[@]}" --model "$work/other.model" --quiet
set +e
"$mowcheck" decide "${common[@]}" --registry "$registry" --registry-user-id EE38001010000 \
  --as-of 2026-11-01 --quiet >"$work/mismatch.log" 2>&1
status=$?
set -e
if [ "$status" -ne 2 ] || ! grep -q "detected with model other.model@" "$work/mismatch.log" ||
   ! grep -q "threshold of model mowing-default.model@" "$work/mismatch.log"; then
  echo "FAIL: decide after detect --model other: exit $status"; cat "$work/mismatch.log"; exit 1
fi
echo "ok: a plain decide after detect --model other is refused: $(cat "$work/mismatch.log")"
set +e
"$mowcheck" decide "${common[@]}" --model "$work/other.model" --registry "$registry" \
  --registry-user-id EE38001010000 --as-of 2026-11-01 --quiet >"$work/match.log" 2>&1
status=$?
set -e
[ "$status" -le 1 ] || { echo "FAIL: decide --model other: exit $status"; cat "$work/match.log"; exit 1; }
echo "ok: decide with the model detect used runs"
