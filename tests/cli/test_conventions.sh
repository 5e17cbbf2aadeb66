#!/usr/bin/env bash
# The batch conventions an operator relies on, tried as cron would run them:
# settings-file slips refused with the line and the nearest key; every setting of
# `run` checked before any stage (exit 2, nothing started); --help points at the
# manual; a missing parcel file says so; on the sample with its bad deliveries:
# absolute stored paths from relative flags, the progress bar counting what the
# summary counts, `scenes ignore` taking a bad delivery out of the exit code, --quiet
# printing nothing on success, and the run's JSON summary naming version, season,
# start and end and its exit code.
# usage: test_conventions.sh MOWCHECK MOWCHECK-REGISTRY MAKE-SAMPLE
set -uo pipefail
mowcheck=${1:?mowcheck} registry=${2:?mowcheck-registry} make_sample=${3:?mowcheck-make-sample}
host=${MOWCHECK_TEST_PGHOST:-}
work=$(mktemp -d /tmp/mowcheck-test-conventions-XXXXXX)
reg_pid=
cleanup() {
  [ -n "$reg_pid" ] && kill "$reg_pid" 2>/dev/null
  [ -n "$host" ] && dropdb -h "$host" -U postgres --if-exists --force mowcheck_conventions 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
failed=0 passed=0
ok() { passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
expect() { # description expected-exit command...
  local what=$1 want=$2; shift 2
  rc=0; "$@" >"$work/stdout" 2>"$work/stderr" || rc=$?
  if [ "$rc" -eq "$want" ]; then ok; else fail "$what: exit $rc, expected $want"; cat "$work/stderr"; fi
}
has() { # file pattern description
  if grep -q -- "$2" "$1"; then ok; else fail "$3: no '$2' in:"; cat "$1"; fi
}

# --- a misspelt key in the settings file: refused like the same flag, line and hint
printf '# agency\n[registry]\nregisty_url = https://ss.example\n' >"$work/a.conf"
expect "misspelt registy_url" 2 "$mowcheck" ingest --config "$work/a.conf" --scenes /tmp --list-tiles
has "$work/stderr" "a.conf:3: unknown setting 'registy_url' (did you mean registry_url?)" "registy_url"
printf 'min_valid_pixel = 3\n' >"$work/b.conf"
expect "misspelt min_valid_pixel" 2 "$mowcheck" export series --config "$work/b.conf"
has "$work/stderr" "did you mean min_valid_pixels" "min_valid_pixel"
expect "misspelt flag" 2 "$mowcheck" ingest --registy-url x
has "$work/stderr" "did you mean --registry-url" "misspelt flag"

# --- run checks every setting before any stage: exit 2, no database, no state made
state=$work/never
runbad() { "$mowcheck" run --scenes "$work" --parcels "$work/a.conf" --state-dir "$state" "$@"; }
expect "run without registry_user_id" 2 runbad --registry http://127.0.0.1:9
has "$work/stderr" "registry_user_id is not set" "no user id"
expect "run without a registry URL" 2 runbad --registry-user-id EE38001010000
has "$work/stderr" "registry URL" "no URL"
expect "run with a missing CA file" 2 runbad --registry https://127.0.0.1:9 \
  --registry-user-id EE38001010000 --registry-tls-ca "$work/missing-ca.pem"
has "$work/stderr" "missing-ca.pem: No such file" "missing CA"
if command -v openssl >/dev/null; then
  for n in one two; do
    openssl req -x509 -newkey rsa:2048 -nodes -subj "/CN=$n" -days 2 \
      -keyout "$work/$n.key" -out "$work/$n.crt" >/dev/null 2>&1
  done
  expect "run with a key of another certificate" 2 runbad --registry https://127.0.0.1:9 \
    --registry-user-id EE38001010000 --registry-tls-cert "$work/one.crt" \
    --registry-tls-key "$work/two.key" --registry-tls-ca "$work/one.crt"
  has "$work/stderr" "two.key does not match the certificate" "mismatched key"
fi
expect "run with an approval confidence above 1" 2 runbad --registry http://127.0.0.1:9 \
  --registry-user-id EE38001010000 --approval-min-confidence 1.5
has "$work/stderr" "approval_min_confidence: 1.5 is outside" "approval confidence"
expect "run with no power per core" 2 runbad --registry http://127.0.0.1:9 \
  --registry-user-id EE38001010000 --cpu-watts-per-core 0
has "$work/stderr" "cpu_watts_per_core: 0 is outside" "watts per core"
if [ ! -e "$state" ]; then ok; else fail "run with bad settings made $state (a stage started)"; fi

# --- --help points at the installed manual, never at a README
for c in run ingest detect decide report export case review access-log train eval scenes; do
  out=$("$mowcheck" "$c" --help 2>&1)
  if grep -q "man mowcheck" <<<"$out" && ! grep -qi "readme" <<<"$out"; then ok; else
    fail "mowcheck $c --help does not point at man mowcheck"; fi
done

# --- report --lang without templates is refused before anything is written
expect "report --lang fi" 2 "$mowcheck" report --lang fi -o "$work/report-fi" --state-dir "$work/never"
has "$work/stderr" "lang fi: no notice templates" "report --lang fi"
if [ ! -e "$work/report-fi" ] && [ ! -e "$work/never" ]; then ok; else fail "report --lang fi wrote something"; fi

for prog in "$mowcheck" "$registry"; do
  if "$prog" --help 2>&1 | grep -q "man mowcheck"; then ok; else
    fail "$(basename "$prog") --help does not point at man mowcheck"; fi
done

# --- a missing parcel file
expect "missing parcel file" 3 "$mowcheck" ingest --scenes "$work" --parcels "$work/nope.gpkg" \
  --state-dir "$work/state0"
has "$work/stderr" "nope.gpkg: no such file" "missing parcels"

[ -n "$host" ] || { echo "SKIPPED (part): MOWCHECK_TEST_PGHOST not set"; echo "$passed passed, $failed failed"; exit "$failed"; }
dropdb -h "$host" -U postgres --if-exists --force mowcheck_conventions 2>/dev/null
createdb -h "$host" -U postgres mowcheck_conventions
dsn="host=$host dbname=mowcheck_conventions user=postgres"
sql() { psql -h "$host" -U postgres -d mowcheck_conventions -At -c "$1"; }
"$make_sample" --out "$work/region" --with-faults --threads 2 >/dev/null

# --- relative flags, on a terminal: paths stored absolute; the bar counts what the
#     summary counts (every scene found, bad deliveries included)
cd "$work"
TERM=xterm COLUMNS=120 script -qec "'$mowcheck' ingest --scenes region/scenes --parcels region/parcels.gpkg \
  --db '$dsn' --state-dir '$work/state' --threads 2" /dev/null >"$work/tty.out" 2>&1
cd - >/dev/null
found=$(grep -ao 'ingest: [0-9]* scenes found' "$work/tty.out" | grep -o '[0-9]*' | head -1)
bar=$(tr '\r' '\n' <"$work/tty.out" | grep -ao 'scenes \[[^]]*\] *[0-9]*/[0-9]*' | tail -1 | grep -o '[0-9]*/[0-9]*$')
if [ -n "$found" ] && [ "$bar" = "$found/$found" ]; then ok; else
  fail "progress bar ended at '$bar', the summary found '$found' scenes"; fi
if [ "$(sql "SELECT count(*) FROM scenes WHERE path NOT LIKE '/%'")" = 0 ] &&
   [ "$(sql "SELECT count(*) FROM scenes")" -gt 90 ] &&
   [ "$(sql "SELECT bool_and(source_path LIKE '/%') FROM parcel_sets")" = t ] &&
   [ "$(sql "SELECT count(*) FROM scene_rejections WHERE path NOT LIKE '/%'")" = 0 ]; then ok; else
  fail "stored paths are not absolute: $(sql "SELECT path FROM scenes LIMIT 1") $(sql "SELECT source_path FROM parcel_sets")"
fi

# --- the bad deliveries make every night exit 1 until an operator acknowledges them
ingest() { "$mowcheck" ingest --scenes "$work/region/scenes" --parcels "$work/region/parcels.gpkg" \
  --db "$dsn" --state-dir "$work/state" --threads 2 "$@"; }
expect "second night with bad deliveries" 1 ingest
expect "scenes ignore without a reason" 2 "$mowcheck" scenes ignore S2B_35VMF_20260524_0_L2A --db "$dsn"
n_faults=0
while IFS=, read -r id _ _ _ _ _ _ _ _ fault; do
  [ -n "$fault" ] && [ "$fault" != fault ] || continue
  n_faults=$((n_faults + 1))
  expect "scenes ignore $id" 0 "$mowcheck" scenes ignore "$id" --reason "archive delivery $fault, reported" --db "$dsn"
done <"$work/region/scenes.csv"
[ "$n_faults" -eq 4 ] && ok || fail "expected 4 faulty scenes in scenes.csv, read $n_faults"
[ "$(sql "SELECT count(*) FROM scene_ignores WHERE reason LIKE 'archive delivery %'")" = 4 ] && ok ||
  fail "scene_ignores does not hold the 4 acknowledgements"
expect "night after the acknowledgements, --quiet" 0 ingest --quiet
if [ ! -s "$work/stdout" ] && [ ! -s "$work/stderr" ]; then ok; else
  fail "--quiet printed on success:"; cat "$work/stdout" "$work/stderr"; fi
expect "the same night, not quiet" 0 ingest
has "$work/stdout" "4 refused scenes ignored" "ignored count"

# --- the run's JSON summary
port=$((20000 + $$ % 20000))
"$registry" --claims "$work/region/claims.csv" --listen "127.0.0.1:$port" >/dev/null 2>&1 &
reg_pid=$!
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
rc=0
"$mowcheck" run --quiet --scenes "$work/region/scenes" --parcels "$work/region/parcels.gpkg" \
  --registry "http://127.0.0.1:$port" --registry-user-id EE38001010000 --as-of 2026-11-01 \
  --db "$dsn" --state-dir "$work/state" --threads 2 --summary-json "$work/run.json" \
  >"$work/run.out" 2>"$work/run.err" || rc=$?
if [ "$rc" -eq 0 ] && [ ! -s "$work/run.out" ]; then ok; else
  fail "run --quiet: exit $rc, stdout:"; cat "$work/run.out" "$work/run.err"; fi
expect "decide --quiet" 0 "$mowcheck" decide --quiet --registry "http://127.0.0.1:$port" \
  --registry-user-id EE38001010000 --as-of 2026-11-01 --db "$dsn" --state-dir "$work/state"
if [ ! -s "$work/stdout" ]; then ok; else fail "decide --quiet printed:"; cat "$work/stdout"; fi
version=$("$mowcheck" version | awk 'NR == 1 {print $2}')
got=$(jq -r '[.version, .season, .exit_code, (.started_at | test("^2[0-9]{3}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$")), (.ended_at >= .started_at)] | map(tostring) | join(" ")' "$work/run.json" 2>&1)
if [ "$got" = "$version 2026 $rc true true" ]; then ok; else
  fail "summary JSON: '$got', expected '$version 2026 $rc true true'"; cat "$work/run.err"; fi

# --- export flagged: the format from the extension, through GDAL, or refused
export_flagged() { "$mowcheck" export flagged --db "$dsn" --state-dir "$work/state" -o "$@"; }
expect "export flagged .geojson" 0 export_flagged "$work/f.geojson"
n_json=$(ogrinfo -ro -so -al "$work/f.geojson" 2>/dev/null | sed -n 's/^Feature Count: //p')
for ext in gpkg fgb; do
  expect "export flagged .$ext" 0 export_flagged "$work/f.$ext"
  info=$(ogrinfo -ro -so -al "$work/f.$ext" 2>&1)
  driver=$([ "$ext" = gpkg ] && echo GPKG || echo FlatGeobuf)
  if grep -q "using driver \`$driver'" <<<"$info" &&
     [ "$(sed -n 's/^Feature Count: //p' <<<"$info")" = "$n_json" ] && [ "${n_json:-0}" -gt 0 ]; then
    ok
  else
    fail "f.$ext is not a $driver file of $n_json features: $(head -3 <<<"$info")"
  fi
done
expect "export flagged .shp" 2 export_flagged "$work/f.shp"
has "$work/stderr" "cannot tell the format" "export .shp"
expect "export flagged .gpkg --format csv" 2 export_flagged "$work/g.gpkg" --format csv
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
