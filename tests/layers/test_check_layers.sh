#!/usr/bin/env bash
# scripts/check-layers on copies of the tree with one defect each: it must fail and
# name the file, and pass on the untouched copy.
set -euo pipefail
src=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

copy() {
  rm -rf "$work/tree"
  mkdir -p "$work/tree/scripts"
  cp -r "$src/pipeline" "$src/kernels" "$work/tree/"
  cp "$src/scripts/check-layers" "$work/tree/scripts/"
}
expect_fail() { # what, pattern
  if out=$("$work/tree/scripts/check-layers" "$work/tree" 2>&1); then
    echo "FAIL: $1 passed the check"; exit 1
  fi
  grep -q -- "$2" <<<"$out" || { echo "FAIL: $1: message lacks '$2': $out"; exit 1; }
  echo "ok: $1 -> $(grep -m1 -- "$2" <<<"$out")"
}

copy
"$work/tree/scripts/check-layers" "$work/tree" >/dev/null
echo "ok: the tree as it is passes"

copy
sed -i '0,/#include "error.h"/s//#include "error.h"\n#include "store.h"/' "$work/tree/pipeline/detect/eval.c"
expect_fail "detect including store" "detect/eval.c:.*detect may not use store"

copy
sed -i '0,/#include "error.h"/s//#include "error.h"\n#include "report.h"/' "$work/tree/pipeline/store/store_scene.c"
expect_fail "store including report" "store/store_scene.c:.*store may not use report"

copy
sed -i 's/#include <stdio.h>/#include <stdio.h>\n#include "progress.h"/' "$work/tree/pipeline/core/log.c"
expect_fail "log and progress including each other" "modules include each other: .*log"

copy
sed -i '0,/#include "error.h"/s//#include "error.h"\n#include "..\/store\/store.h"/' "$work/tree/pipeline/decide/decide.c"
expect_fail "an include by path" "include by name"

copy
rm "$work/tree/pipeline/report/README.md"
expect_fail "a part without README" "pipeline/report has no README.md"
