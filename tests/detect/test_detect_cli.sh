#!/bin/sh
# mowcheck detect / train / eval from the command line.
# usage: test_detect_cli.sh MOWCHECK SOURCE_DIR
set -u
mc=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
check() { if eval "$2"; then echo "ok: $1"; else echo "FAILED: $1"; fail=1; fi; }

# A clean cut between 15 and 20 June, then regrowth; one cloudy (empty) date.
cat > "$tmp/s.csv" <<'CSV'
parcel_id,date,ndvi,valid_share
A1,2024-05-26,0.84,1
A1,2024-05-31,0.85,1
A1,2024-06-05,,0
A1,2024-06-10,0.86,1
A1,2024-06-15,0.85,1
A1,2024-06-20,0.38,1
A1,2024-06-25,0.42,1
A1,2024-06-30,0.47,1
A1,2024-07-05,0.53,1
A1,2024-07-10,0.58,1
A1,2024-07-15,0.63,1
A1,2024-07-20,0.68,1
A1,2024-07-25,0.72,1
A1,2024-07-30,0.75,1
CSV
"$mc" detect --series "$tmp/s.csv" --events-out "$tmp/e.csv" --summary-out "$tmp/m.csv" --quiet
check "detect exits 0" "[ $? -eq 0 ]"
check "events header" "[ \"\$(head -1 $tmp/e.csv)\" = 'parcel_id,season,date_start,date_end,date,confidence' ]"
check "one event in 15..20 June" "grep -q '^A1,2024,2024-06-15,2024-06-20,2024-06-' $tmp/e.csv && [ \$(wc -l < $tmp/e.csv) -eq 2 ]"
check "summary counts 14 dates, 13 clear, 1 event" "grep -q '^A1,2024,14,13,[0-9]*,1,' $tmp/m.csv"

printf 'parcel_id,date,ndvi\nB1,2024-06-01,0.8\nB1,2024-06-06,nan\nB1,06/11/2024,0.5\n' > "$tmp/bad.csv"
"$mc" detect --series "$tmp/bad.csv" --events-out "$tmp/e2.csv" 2> "$tmp/err"
rc=$?
check "garbage refused with exit 3" "[ $rc -eq 3 ]"
check "message names file and lines" "grep -q 'bad.csv: 2 bad lines' $tmp/err && grep -q 'line 3:' $tmp/err && grep -q 'line 4:' $tmp/err"
check "no events file from garbage" "[ ! -e $tmp/e2.csv ]"

d="$src/data-samples/mowing-train"
"$mc" train --series "$d/series.csv" --labels "$d/labels.csv" --model-out "$tmp/m1.model" --quiet
"$mc" train --series "$d/series.csv" --labels "$d/labels.csv" --model-out "$tmp/m2.model" --quiet --seed 1
check "train is deterministic" "cmp -s $tmp/m1.model $tmp/m2.model"
sed 's/^mowcheck-model [0-9]*$/mowcheck-model 9/' "$tmp/m1.model" > "$tmp/v9.model"
"$mc" detect --series "$tmp/s.csv" --events-out "$tmp/e3.csv" --model "$tmp/v9.model" 2> "$tmp/err"
check "wrong version refused" "[ $? -eq 3 ] && grep -q 'line 1: format version 9' $tmp/err"
"$mc" eval --series "$d/series.csv" --labels "$d/labels.csv" --model "$tmp/m1.model" --quiet > "$tmp/eval.txt"
check "eval prints both scorings" "grep -q 'F1' $tmp/eval.txt && grep -q 'Sen4CAP-style rule' $tmp/eval.txt"
# --ndvi-only: trained as if the series came from the store (no nir/swir1), the model
# gives NDMI (the last season feature) no weight; with the bands it does.
"$mc" train --series "$d/series.csv" --labels "$d/labels.csv" --model-out "$tmp/nd.model" --quiet --ndvi-only
check "ndvi-only model: NDMI weight 0" "grep -q '^season_weights .* 0\$' $tmp/nd.model"
check "full model: NDMI weighted" "! grep -q '^season_weights .* 0\$' $tmp/m1.model"
exit $fail
