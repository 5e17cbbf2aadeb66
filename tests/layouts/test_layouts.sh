#!/usr/bin/env bash
# Every delivery layout of the same two sample scenes (one per tile, 21 June) gives
# exactly the series of the plain layout: Earth Search v1 items (asset hrefs, the
# offset already removed and flagged), collection-1 ids, the archive's nested tree,
# .SAFE folders (JP2) and .SAFE.zip files. Bands are rewritten from the sample's own
# files with gdal_translate. Also: a wrongly flagged item (offset removed, no flag)
# is refused by the plausibility check, naming the cause; all layouts at once are
# one scene per tile-date; an empty scenes folder is exit 1; a folder that is no
# scene is reported by name; --list-tiles works on every layout.
set -euo pipefail
bin=${MOWCHECK_BINARY_DIR:?run through ctest}
host=${MOWCHECK_TEST_PGHOST:-}
[ -n "$host" ] || { echo "SKIPPED: MOWCHECK_TEST_PGHOST not set"; exit 77; }
mowcheck=$bin/pipeline/mowcheck
make_sample=$bin/data-samples/generator/mowcheck-make-sample
[ -x "$make_sample" ] || { echo "SKIPPED: no sample generator built"; exit 77; }
for tool in gdal_translate jq zip; do
  command -v "$tool" >/dev/null || { echo "SKIPPED: $tool not installed"; exit 77; }
done
work=$(mktemp -d /tmp/mowcheck-test-layouts-XXXXXX)
trap 'rm -rf "$work"' EXIT
"$make_sample" --out "$work/region" --threads 2 >/dev/null
src=$work/region/scenes parcels=$work/region/parcels.gpkg
DATE=20260621 TIME=095031
TILES="35VLF 35VMF"

failed=0 passed=0
ok() { passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }

n=0
# ingest DIR [expected exit]: a fresh database and state; leaves $out, $csv
ingest() {
  n=$((n + 1))
  local db=mowcheck_layouts_$n want=${2:-0} rc=0
  dropdb -h "$host" -U postgres --if-exists --force "$db" 2>/dev/null || true
  createdb -h "$host" -U postgres "$db"
  dsn="host=$host dbname=$db user=postgres"
  out=$work/out.$n csv=$work/series.$n.csv
  "$mowcheck" ingest --scenes "$1" --parcels "$parcels" --db "$dsn" \
    --state-dir "$work/state.$n" --threads 2 >"$out" 2>&1 || rc=$?
  "$mowcheck" export series --db "$dsn" --state-dir "$work/state.$n" -o "$csv" 2>>"$out" || true
  if [ "$rc" -ne "$want" ]; then fail "ingest $1: exit $rc, expected $want"; cat "$out"; fi
}
same_series() { # layout name
  if cmp -s "$work/base.csv" "$csv"; then ok; else
    fail "$1: the series differs from the plain layout's"; diff "$work/base.csv" "$csv" | head -5
  fi
}
list_tiles() { # dir layout name
  local got
  got=$("$mowcheck" ingest --scenes "$1" --list-tiles 2>/dev/null | tr '\n' ' ')
  if [ "$got" = "35VLF 35VMF " ]; then ok; else fail "$2: --list-tiles printed '$got'"; fi
}
plain_id() { echo "S2B_${1}_${DATE}_0_L2A"; }

# the plain layout: the reference
mkdir -p "$work/plain"
for t in $TILES; do cp -r "$src/$(plain_id "$t")" "$work/plain/"; done
ingest "$work/plain"
cp "$csv" "$work/base.csv"
[ "$(grep -c ",2026-06-21," "$work/base.csv")" -gt 200 ] && ok || fail "reference series too short"

# item.json of an Earth Search v1 item for tile $1 (id $2), assets red/nir/scl/swir16
item() {
  local sq=${1:3:2}
  jq --arg id "$2" --arg tile "$1" --arg sq "$sq" --arg hr "$3" --arg hn "$4" --arg hs "$5" \
     --arg hw "$6" --argjson flag "$7" '
    .id = $id | .properties["s2:mgrs_tile"] = $tile | .properties["mgrs:grid_square"] = $sq
    | (if $flag then .properties["earthsearch:boa_offset_applied"] = true else . end)
    | .assets = {red: (.assets.B04 | .href = $hr), nir: (.assets.B08 | .href = $hn),
                 scl: (.assets.SCL | .href = $hs), swir16: (.assets.B11 | .href = $hw)}' \
    "$src/$(plain_id 35VLF)/item.json"
}
# the bands with the -1000 DN offset already removed (reflectance x 10000), as many
# Earth Search v1 items are; DN 0 stays no data
unoffset() { gdal_translate -q -scale 1000 11000 0 10000 -ot UInt16 "$1" "$2"; }

# 1. Earth Search v1, offset removed and flagged: one item names its files red.tif...,
#    the other points at the archive's URLs of B04.tif...
mkdir -p "$work/es1"
for t in $TILES; do
  d=$work/es1/$(plain_id "$t") s=$src/$(plain_id "$t")
  mkdir -p "$d"
  if [ "$t" = 35VLF ]; then names="red nir scl swir16"; else names="B04 B08 SCL B11"; fi
  set -- $names
  unoffset "$s/B04.tif" "$d/$1.tif"; unoffset "$s/B08.tif" "$d/$2.tif"
  cp "$s/SCL.tif" "$d/$3.tif"; unoffset "$s/B11.tif" "$d/$4.tif"
  if [ "$t" = 35VLF ]; then
    item "$t" "$(plain_id "$t")" ./red.tif ./nir.tif ./scl.tif ./swir16.tif true >"$d/item.json"
  else
    url=https://sentinel-cogs.s3.us-west-2.amazonaws.com/sentinel-s2-l2a-cogs/35/V/MF/2026/6/$(plain_id "$t")
    item "$t" "$(plain_id "$t")" "$url/B04.tif" "$url/B08.tif" "$url/SCL.tif" "$url/B11.tif" \
      true >"$d/item.json"
  fi
done
ingest "$work/es1"
same_series "Earth Search v1 (boa_offset_applied)"
list_tiles "$work/es1" "Earth Search v1"

# 2. the same pixels, but the item does not say the offset was removed (the archive's
#    flag is wrong on some items): refused with the cause, never stored quietly
mkdir -p "$work/wrongflag"
cp -r "$work/es1/$(plain_id 35VLF)" "$work/wrongflag/"
jq 'del(.properties["earthsearch:boa_offset_applied"])' "$work/es1/$(plain_id 35VLF)/item.json" \
  >"$work/wrongflag/$(plain_id 35VLF)/item.json"
ingest "$work/wrongflag" 1
if grep -q "reflectance offset looks applied twice" "$out"; then ok; else
  fail "wrong flag: no 'offset looks applied twice' message"; cat "$out"; fi
if [ "$(grep -c ",2026-06-21," "$csv" || true)" -eq 0 ]; then ok; else
  fail "wrong flag: the scene was stored"; fi

# 3. Earth Search collection-1 ids
mkdir -p "$work/c1"
for t in $TILES; do
  id=S2B_T${t}_${DATE}T${TIME}_L2A d=$work/c1/S2B_T${t}_${DATE}T${TIME}_L2A
  cp -r "$src/$(plain_id "$t")" "$d"
  item "$t" "$id" ./B04.tif ./B08.tif ./SCL.tif ./B11.tif false >"$d/item.json"
done
ingest "$work/c1"
same_series "collection-1 ids"
list_tiles "$work/c1" "collection-1"

# 4. a synced copy of the archive, nested by tile and month
for t in $TILES; do
  d=$work/nested/${t:0:2}/${t:2:1}/${t:3:2}/2026/6
  mkdir -p "$d"; cp -r "$src/$(plain_id "$t")" "$d/"
done
ingest "$work/nested"
same_series "nested archive tree"
list_tiles "$work/nested" "nested archive"

# 5. Copernicus .SAFE folders: JP2 (lossless) in GRANULE/*/IMG_DATA/R10m, R20m
safe_name() { echo "S2B_MSIL2A_${DATE}T${TIME}_N0511_R079_T${1}_${DATE}T125011.SAFE"; }
mtd() { # tile granule
  local g=GRANULE/$2/IMG_DATA
  cat <<XML
<?xml version="1.0" encoding="UTF-8"?>
<n1:Level-2A_User_Product xmlns:n1="https://psd-14.sentinel2.eo.esa.int/PSD/User_Product_Level-2A.xsd">
<n1:General_Info><Product_Info>
<PRODUCT_START_TIME>2026-06-21T09:50:31.024Z</PRODUCT_START_TIME>
<PRODUCT_URI>$(safe_name "$1")</PRODUCT_URI><PROCESSING_LEVEL>Level-2A</PROCESSING_LEVEL>
<PRODUCT_TYPE>S2MSI2A</PRODUCT_TYPE><PROCESSING_BASELINE>05.11</PROCESSING_BASELINE>
<Product_Organisation><Granule_List><Granule granuleIdentifier="x" imageFormat="JPEG2000">
<IMAGE_FILE>$g/R10m/T${1}_${DATE}T${TIME}_B04_10m</IMAGE_FILE>
<IMAGE_FILE>$g/R10m/T${1}_${DATE}T${TIME}_B08_10m</IMAGE_FILE>
<IMAGE_FILE>$g/R20m/T${1}_${DATE}T${TIME}_B11_20m</IMAGE_FILE>
<IMAGE_FILE>$g/R20m/T${1}_${DATE}T${TIME}_SCL_20m</IMAGE_FILE>
</Granule></Granule_List></Product_Organisation>
</Product_Info></n1:General_Info>
<n1:Product_Image_Characteristics>
<QUANTIFICATION_VALUES_LIST><BOA_QUANTIFICATION_VALUE unit="none">10000</BOA_QUANTIFICATION_VALUE></QUANTIFICATION_VALUES_LIST>
<BOA_ADD_OFFSET_VALUES_LIST>
<BOA_ADD_OFFSET band_id="3">-1000</BOA_ADD_OFFSET><BOA_ADD_OFFSET band_id="7">-1000</BOA_ADD_OFFSET>
<BOA_ADD_OFFSET band_id="11">-1000</BOA_ADD_OFFSET>
</BOA_ADD_OFFSET_VALUES_LIST>
</n1:Product_Image_Characteristics>
</n1:Level-2A_User_Product>
XML
}
jp2() { gdal_translate -q -of JP2OpenJPEG -co REVERSIBLE=YES -co QUALITY=100 "$1" "$2"; }
mkdir -p "$work/safe"
for t in $TILES; do
  s=$src/$(plain_id "$t") p=$work/safe/$(safe_name "$t") gr=L2A_T${t}_A000001_${DATE}T095228
  mkdir -p "$p/GRANULE/$gr/IMG_DATA/R10m" "$p/GRANULE/$gr/IMG_DATA/R20m"
  mtd "$t" "$gr" >"$p/MTD_MSIL2A.xml"
  jp2 "$s/B04.tif" "$p/GRANULE/$gr/IMG_DATA/R10m/T${t}_${DATE}T${TIME}_B04_10m.jp2"
  jp2 "$s/B08.tif" "$p/GRANULE/$gr/IMG_DATA/R10m/T${t}_${DATE}T${TIME}_B08_10m.jp2"
  jp2 "$s/B11.tif" "$p/GRANULE/$gr/IMG_DATA/R20m/T${t}_${DATE}T${TIME}_B11_20m.jp2"
  jp2 "$s/SCL.tif" "$p/GRANULE/$gr/IMG_DATA/R20m/T${t}_${DATE}T${TIME}_SCL_20m.jp2"
done
ingest "$work/safe"
same_series ".SAFE folders"
list_tiles "$work/safe" ".SAFE"

# 6. the same products as downloaded: .SAFE.zip, read through /vsizip/
mkdir -p "$work/zip"
for t in $TILES; do
  (cd "$work/safe" && zip -qr0 "$work/zip/$(safe_name "$t").zip" "$(safe_name "$t")")
done
ingest "$work/zip"
same_series ".SAFE.zip"
list_tiles "$work/zip" ".SAFE.zip"

# 6b. the same zips split by tile, as a Slurm array runs them: each task still reads the
#     other tile's grid from its .SAFE.zip (it decides who owns the overlap's pixels)
n=$((n + 1))
db=mowcheck_layouts_$n
dropdb -h "$host" -U postgres --if-exists --force "$db" 2>/dev/null || true
createdb -h "$host" -U postgres "$db"
dsn="host=$host dbname=$db user=postgres" csv=$work/series.$n.csv
for t in $TILES; do
  "$mowcheck" ingest --scenes "$work/zip" --parcels "$parcels" --db "$dsn" --tile "$t" \
    --state-dir "$work/state.$n" --threads 2 >"$work/out.$n" 2>&1 || fail "ingest --tile $t of the zips"
done
"$mowcheck" export series --db "$dsn" --state-dir "$work/state.$n" -o "$csv"
same_series ".SAFE.zip, one tile per task"

# 7. every layout at once: still one scene per tile-date, the others duplicates (exit 1)
mkdir -p "$work/all"
cp -r "$work/plain/." "$work/c1/." "$work/nested/." "$work/safe/." "$work/zip/." "$work/all/"
ingest "$work/all" 1
same_series "all layouts together"
if grep -q "ingest: 10 scenes found, 2 new, 2 ingested, 0 skipped (already stored), 0 rejected, 8 duplicates" "$out"; then ok; else
  fail "all layouts: expected 2 ingested and 8 duplicates"; cat "$out"; fi

# 8. a folder that holds nothing recognisable is reported by name
mkdir -p "$work/plain/notes"
ingest "$work/plain" 1
if grep -q "notes.*not a scene" "$out"; then ok; else fail "folder 'notes' not reported"; cat "$out"; fi

# 9. an empty scenes folder (an unmounted disk): a warning and exit 1
mkdir -p "$work/empty"
ingest "$work/empty" 1
if grep -q "is empty" "$out"; then ok; else fail "empty folder: no warning"; cat "$out"; fi

for i in $(seq 1 "$n"); do dropdb -h "$host" -U postgres --if-exists --force mowcheck_layouts_$i || true; done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
