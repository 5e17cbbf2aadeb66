# Shell helpers shared by the benchmarks (scripts/bench-ingest, scripts/bench-scale);
# sourced, not run.

# calc EXPR V1 V2 ...: awk arithmetic on a[1], a[2], ...; prints "" when a value is
# missing (an empty argument), so a missing figure stays missing.
calc() {
  local expr=$1 x; shift
  for x in "$@"; do [ -n "$x" ] || { echo ""; return 0; }; done
  awk -v s="$*" "BEGIN { split(s, a, \" \"); printf \"%.6g\\n\", $expr }"
}

# number_after FILE RE PREFIX: the number right after PREFIX in the last line of FILE
# matching RE ("" where there is none).
number_after() {
  awk -v re="$2" -v pre="$3" '$0 ~ re { line = $0 } END { if (line == "") exit; i = index(line, pre); if (!i) exit;
    s = substr(line, i + length(pre)); if (match(s, /^[0-9]+(\.[0-9]+)?/)) print substr(s, 1, RLENGTH) }' "$1"
}

# bench_build ROOT BUILD_DIR LOG_DIR NAME TARGET...: the benchmarks' build. Release
# without debug info, at -O2: the optimisation level of the project's default build
# (RelWithDebInfo), i.e. what users run; the kernels set their own -O3
# (kernels/CMakeLists.txt). GCC's -O3 elsewhere adds -Werror false positives
# (maybe-uninitialized, format-truncation) that no other build sees. Logs go to
# LOG_DIR/cmake.log and LOG_DIR/build.log; a failure exits naming NAME.
bench_build() {
  local root=$1 build=$2 logs=$3 name=$4; shift 4
  mkdir -p "$logs"
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS_RELEASE="-O2 -DNDEBUG" \
    >"$logs/cmake.log" 2>&1 || { cat "$logs/cmake.log"; exit 1; }
  if ! cmake --build "$build" -j"$(nproc)" --target "$@" >"$logs/build.log" 2>&1; then
    grep -E 'error|Error' "$logs/build.log" | head -20
    echo "$name: the build failed (full log: $logs/build.log)" >&2
    exit 1
  fi
}
