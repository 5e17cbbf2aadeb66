#!/usr/bin/env bash
# docs/mowcheck.1 covers what the program has: every subcommand of pipeline/cli/main.c's
# table (a .SS heading each), every option each subcommand's --help lists, every
# setting of pipeline/cli/settings.c's table (in SETTINGS), the exit codes of
# pipeline/cli/cli.h (in EXIT STATUS); and groff/man render it without a warning (that
# part is skipped, saying so, where they are not installed).
# With BINARY_DIR and CMAKE, also that `cmake --install` puts it in share/man/man1.
# usage: test_man_page.sh SOURCE_DIR MOWCHECK [BINARY_DIR CMAKE]
set -uo pipefail
src=${1:?source dir} mowcheck=${2:?mowcheck binary} bin=${3:-} cmake=${4:-}
page=$src/docs/mowcheck.1
failed=0 passed=0
ok() { passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
[ -f "$page" ] || { echo "FAIL: $page missing"; exit 1; }
# the page's text with roff's escaped dashes as plain ones
text=$(sed 's/\\-/-/g' "$page")
section() { # the lines of one .SH section
  awk -v name="$1" '/^\.SH /{on = ($0 ~ "^\\.SH \"?" name)} on' <<<"$text"
}

commands=$(sed -n 's/^ *{"\([a-z-]*\)", cmd_[a-z_]*,.*/\1/p' "$src/pipeline/cli/main.c")
[ "$(wc -w <<<"$commands")" -ge 10 ] || fail "only $(wc -w <<<"$commands") commands read from main.c"
for c in $commands; do
  if grep -q "^\.SS \"$c\b" <<<"$text"; then ok; else fail "subcommand '$c' has no .SS heading"; fi
  # the options its --help lists ("  --name   help")
  opts=$("$mowcheck" "$c" --help 2>/dev/null | sed -n 's/^  --\([a-z-]*\) .*/\1/p')
  for o in $opts; do
    if grep -q -- "--$o\b" <<<"$text"; then ok; else fail "option --$o of '$c' is not in the page"; fi
  done
done

settings=$(sed -n 's/^ *{"\([a-z_0-9]*\)", SETTING_.*/\1/p' "$src/pipeline/cli/settings.c")
[ "$(wc -w <<<"$settings")" -ge 20 ] || fail "only $(wc -w <<<"$settings") settings read from settings.c"
settings_text=$(section SETTINGS)
for s in $settings; do
  if grep -qx "\.B $s" <<<"$settings_text"; then ok; else fail "setting '$s' is not in SETTINGS"; fi
done

codes=$(sed -n 's/^ *EXIT_[A-Z_]* = \([0-9]\).*/\1/p' "$src/pipeline/cli/cli.h")
[ "$(wc -w <<<"$codes")" -eq 4 ] || fail "expected 4 exit codes in cli.h, read: $codes"
exit_text=$(section "EXIT STATUS")
for c in $codes; do
  if grep -qx "\.B $c" <<<"$exit_text"; then ok; else fail "exit code $c is not in EXIT STATUS"; fi
done
for name in COMMANDS "COMMON OPTIONS" SETTINGS ENVIRONMENT FILES EXAMPLES "RUN SUMMARY"; do
  if grep -q "^\.SH \"\?$name" <<<"$text"; then ok; else fail "no section $name"; fi
done

# rendering: no warnings from groff (all of them) nor from man at 80 columns
if command -v groff >/dev/null; then
  out=$(groff -man -Tutf8 -ww -z "$page" 2>&1)
  if [ -z "$out" ]; then ok; else fail "groff warns: $out"; fi
else
  echo "SKIPPED (part): groff not installed (Debian's groff-base)"
fi
if command -v man >/dev/null; then
  out=$(MANWIDTH=80 LC_ALL=C.UTF-8 man --warnings -l "$page" 2>&1 >/dev/null)
  if [ -z "$out" ]; then ok; else fail "man warns: $out"; fi
  rendered=$(MANWIDTH=80 LC_ALL=C.UTF-8 man -l "$page" 2>/dev/null)
  if grep -q "^MOWCHECK(1)" <<<"$rendered" && grep -q "mowcheck run --scenes DIR" <<<"$rendered"; then
    ok
  else
    fail "man -l does not render the page"
  fi
else
  echo "SKIPPED (part): man not installed (Debian's man-db)"
fi
if [ -n "$bin" ] && [ -n "$cmake" ]; then
  prefix=$(mktemp -d /tmp/mowcheck-man-install-XXXXXX)
  if "$cmake" --install "$bin" --prefix "$prefix" >/dev/null 2>&1 &&
    cmp -s "$page" "$prefix/share/man/man1/mowcheck.1"; then
    ok
  else
    fail "cmake --install does not put the page in $prefix/share/man/man1"
  fi
  rm -rf "$prefix"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
