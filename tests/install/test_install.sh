#!/usr/bin/env bash
# The installed program runs without the source tree: `cmake --install` into a
# temporary prefix, then, in a private mount namespace where the source tree is an
# empty folder, the installed mowcheck and mowcheck-registry run the sample night
# (a private PostgreSQL cluster of their own: migrations, model and templates all from
# <prefix>/share/mowcheck). Then `cpack -G DEB` makes a package holding the same.
# usage: test_install.sh SOURCE_DIR BINARY_DIR CMAKE CPACK MAKE-SAMPLE
set -uo pipefail
src=${1:?} bin=${2:?} cmake=${3:?} cpack=${4:?} make_sample=${5:?}
for tool in unshare mount; do
  command -v "$tool" >/dev/null || { echo "SKIPPED: $tool not available"; exit 77; }
done
unshare -m --propagation private true 2>/dev/null ||
  { echo "SKIPPED: no private mount namespace here (needs root or user namespaces)"; exit 77; }
work=$(mktemp -d /tmp/mowcheck-test-install-XXXXXX)
chmod 755 "$work" # the private cluster runs as user postgres when we are root
trap 'rm -rf "$work"' EXIT
failed=0 passed=0
ok() { passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }

prefix=$work/prefix
"$cmake" --install "$bin" --prefix "$prefix" >"$work/install.log" 2>&1 || { cat "$work/install.log"; exit 1; }
for f in bin/mowcheck bin/mowcheck-registry share/man/man1/mowcheck.1 \
         share/mowcheck/schemas/001_foundation.sql share/mowcheck/schemas/050_scene_ignores.sql \
         share/mowcheck/schemas/models/mowing-default.model share/mowcheck/schemas/templates/agency.conf \
         share/mowcheck/schemas/templates/en/notice.html share/mowcheck/schemas/registry-openapi.json; do
  if [ -e "$prefix/$f" ]; then ok; else fail "not installed: $f"; fi
done
"$make_sample" --out "$work/region" --threads 2 >/dev/null
data=$("$prefix/bin/mowcheck" version | sed -n 's/^data: //p')
if [ "$(cd "$data" 2>/dev/null && pwd -P)" = "$(cd "$prefix/share/mowcheck/schemas" && pwd -P)" ]; then ok; else
  fail "the installed mowcheck reads its data from '$data'"; fi

# the night, with the source tree (and the build folder in it) hidden
cat >"$work/night.sh" <<NIGHT
set -u
mount --bind "$work/empty" "$src" || exit 90
[ -z "\$(ls -A "$src")" ] || exit 91
[ -d "$bin" ] && [ "$bin" != "${bin#$src}" ] && [ -e "$bin/pipeline/mowcheck" ] && exit 92
"$prefix/bin/mowcheck-registry" --claims "$work/region/claims.csv" --listen 127.0.0.1:0 \
  --port-file "$work/port" >/dev/null 2>&1 &
reg=\$!
for _ in \$(seq 50); do [ -s "$work/port" ] && break; sleep 0.1; done
rc=0
"$prefix/bin/mowcheck" run --scenes "$work/region/scenes" --parcels "$work/region/parcels.gpkg" \
  --registry "http://127.0.0.1:\$(cat "$work/port")" --registry-user-id EE38001010000 \
  --as-of 2026-11-01 --state-dir "$work/state" --threads 2 --quiet || rc=\$?
"$prefix/bin/mowcheck" export decisions --state-dir "$work/state" -o "$work/decisions.csv" || rc=\$((rc + 10))
"$prefix/bin/mowcheck" report -o "$work/report" --state-dir "$work/state" --quiet || rc=\$((rc + 20))
kill \$reg
exit \$rc
NIGHT
mkdir -p "$work/empty"
rc=0
unshare -m --propagation private bash "$work/night.sh" >"$work/night.log" 2>&1 || rc=$?
if [ "$rc" -eq 0 ]; then ok; else fail "the installed night: exit $rc"; cat "$work/night.log"; fi
lines=$(wc -l <"$work/decisions.csv" 2>/dev/null || echo 0)
if [ "$lines" -gt 200 ]; then ok; else fail "only $lines lines of decisions from the installed night"; fi
if [ -s "$work/report/report.html" ] && ls "$work/report/notices/en/"*.txt >/dev/null 2>&1; then ok; else
  fail "the installed report has no report.html or no notices (templates not found?)"; fi

# the Debian package
if command -v dpkg-deb >/dev/null; then
  (cd "$work" && "$cpack" -G DEB --config "$bin/CPackConfig.cmake" -B "$work/deb" >"$work/cpack.log" 2>&1) ||
    { fail "cpack -G DEB failed"; tail -20 "$work/cpack.log"; }
  deb=$(ls "$work"/deb/mowcheck_*.deb 2>/dev/null | head -1)
  if [ -n "$deb" ]; then
    contents=$(dpkg-deb -c "$deb")
    for f in ./usr/bin/mowcheck ./usr/bin/mowcheck-registry ./usr/share/man/man1/mowcheck.1 \
             ./usr/share/mowcheck/schemas/001_foundation.sql \
             ./usr/share/mowcheck/schemas/models/mowing-default.model \
             ./usr/share/mowcheck/schemas/templates/et/notice.txt; do
      if grep -q " $f\$" <<<"$contents"; then ok; else fail "the package lacks $f"; fi
    done
    depends=$(dpkg-deb -f "$deb" Depends)
    if grep -q "libgdal" <<<"$depends" && grep -q "postgresql" <<<"$depends"; then ok; else
      fail "package Depends: '$depends'"; fi
  else
    fail "no .deb made"
  fi
else
  echo "SKIPPED (part): dpkg-deb not installed"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
