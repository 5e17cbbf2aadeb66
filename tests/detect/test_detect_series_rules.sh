#!/bin/sh
# detect --series, train and eval read a series file under the nightly run's
# observation rules: rows whose valid_share or cloud_score lies below
# min_valid_share are cloudy dates, not dips.
# usage: test_detect_series_rules.sh MOWCHECK
set -u
mc=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
check() { if eval "$2"; then echo "ok: $1"; else echo "FAILED: $1"; fail=1; fi; }

# Every 5 days, 1 April .. 31 October 2024: a clean cut between 15 and 20 June with
# regrowth. 6..21 May: four partly clouded rows (valid_share 0.3) whose NDVI falls to
# 0.42 and climbs back; 24 August .. 3 September: three rows the cloud mask calls
# cloud (cloud_score 0.2) with the same shape. Read as clear, both look like cuts.
cat > "$tmp/s.csv" <<'CSV'
parcel_id,date,ndvi,valid_share,cloud_score
R1,2024-04-01,0.8500,1,0.95
R1,2024-04-06,0.8500,1,0.95
R1,2024-04-11,0.8500,1,0.95
R1,2024-04-16,0.8500,1,0.95
R1,2024-04-21,0.8500,1,0.95
R1,2024-04-26,0.8500,1,0.95
R1,2024-05-01,0.8500,1,0.95
R1,2024-05-06,0.4200,0.3,0.95
R1,2024-05-11,0.4500,0.3,0.95
R1,2024-05-16,0.5000,0.3,0.95
R1,2024-05-21,0.5500,0.3,0.95
R1,2024-05-26,0.8500,1,0.95
R1,2024-05-31,0.8500,1,0.95
R1,2024-06-05,0.8500,1,0.95
R1,2024-06-10,0.8500,1,0.95
R1,2024-06-15,0.8500,1,0.95
R1,2024-06-20,0.4300,1,0.95
R1,2024-06-25,0.4800,1,0.95
R1,2024-06-30,0.5300,1,0.95
R1,2024-07-05,0.5800,1,0.95
R1,2024-07-10,0.6300,1,0.95
R1,2024-07-15,0.6800,1,0.95
R1,2024-07-20,0.7300,1,0.95
R1,2024-07-25,0.7800,1,0.95
R1,2024-07-30,0.8200,1,0.95
R1,2024-08-04,0.8200,1,0.95
R1,2024-08-09,0.8200,1,0.95
R1,2024-08-14,0.8200,1,0.95
R1,2024-08-19,0.8200,1,0.95
R1,2024-08-24,0.3800,1,0.2
R1,2024-08-29,0.4200,1,0.2
R1,2024-09-03,0.4700,1,0.2
R1,2024-09-08,0.8200,1,0.95
R1,2024-09-13,0.8200,1,0.95
R1,2024-09-18,0.8200,1,0.95
R1,2024-09-23,0.8200,1,0.95
R1,2024-09-28,0.8200,1,0.95
R1,2024-10-03,0.8200,1,0.95
R1,2024-10-08,0.8200,1,0.95
R1,2024-10-13,0.8200,1,0.95
R1,2024-10-18,0.8200,1,0.95
R1,2024-10-23,0.8200,1,0.95
R1,2024-10-28,0.8200,1,0.95
CSV
"$mc" detect --series "$tmp/s.csv" --events-out "$tmp/e.csv" --summary-out "$tmp/m.csv" --quiet
check "detect exits 0" "[ $? -eq 0 ]"
check "only the cut in 15..20 June is an event" \
  "grep -q '^R1,2024,2024-06-15,2024-06-20,' $tmp/e.csv && [ \$(wc -l < $tmp/e.csv) -eq 2 ]"
check "summary: 43 dates, 36 observed (7 below min_valid_share), 1 event" \
  "grep -q '^R1,2024,43,36,[0-9]*,1,' $tmp/m.csv"

# The rules come from the setting: with min_valid_share 0.1 those rows count as clear.
"$mc" detect --series "$tmp/s.csv" --events-out "$tmp/e2.csv" --min-valid-share 0.1 --quiet
check "min_valid_share 0.1: the clouded rows are dips again (3 events)" \
  "[ \$(wc -l < $tmp/e2.csv) -eq 4 ] && grep -q '^R1,2024,2024-05-01,2024-05-06,' $tmp/e2.csv"

# A bad number in valid_share or cloud_score is a bad line, named with file and line.
sed -e '3s/,1,0.95$/,abc,0.95/' -e '5s/,1,0.95$/,1,1.5/' "$tmp/s.csv" > "$tmp/bad.csv"
"$mc" detect --series "$tmp/bad.csv" --events-out "$tmp/e3.csv" 2> "$tmp/err"
check "bad valid_share / cloud_score refused with exit 3" "[ $? -eq 3 ] && [ ! -e $tmp/e3.csv ]"
check "message names file and both lines" \
  "grep -q \"bad.csv: 2 bad lines.*line 3: bad valid_share 'abc'.*line 5: bad cloud_score '1.5'\" $tmp/err"

# train and eval read under the same rules: the bad file is refused there too.
printf 'parcel_id,year,date,end_date,type\nR1,2024,2024-06-17,,mowing\n' > "$tmp/labels.csv"
"$mc" eval --series "$tmp/bad.csv" --labels "$tmp/labels.csv" > /dev/null 2> "$tmp/err"
check "eval refuses the bad file, naming the line" "[ $? -eq 3 ] && grep -q 'line 3: bad valid_share' $tmp/err"
"$mc" train --series "$tmp/bad.csv" --labels "$tmp/labels.csv" --model-out "$tmp/x.model" 2> "$tmp/err"
check "train refuses the bad file, naming the line" "[ $? -eq 3 ] && grep -q 'line 5: bad cloud_score' $tmp/err"
exit $fail
