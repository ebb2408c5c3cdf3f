#!/usr/bin/env bash
# checksrc: a small style checker for src/ and include/ (run by ctest as
# lint/checksrc). It fails, printing file:line for each hit, on:
#   - unbounded or error-blind libc calls anywhere: sprintf( vsprintf(
#     strcpy( strcat( strtok( atoi( gets(
#   - raw heap calls outside src/base/: malloc( calloc( realloc( free(
#     (use the allocator hook in src/base/alloc.h)
# Comments and string literals are ignored. A line carrying the comment
# /* checksrc: allow */ is exempt.
# Usage: tools/checksrc.sh [REPO_ROOT]
set -euo pipefail

root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root"

files=()
while IFS= read -r -d '' f; do files+=("$f"); done < <(
  find src include -type f \( -name '*.c' -o -name '*.h' -o -name '*.def' \
    -o -name '*.inc' \) -print0 2>/dev/null | sort -z)

if ((${#files[@]} == 0)); then
  echo "checksrc: no sources under src/ or include/"
  exit 0
fi

# The awk program blanks comments and string/char literals (keeping line
# numbers and block-comment state across lines), then matches calls that
# are not member calls (x.free(, x->free() nor part of a longer name.
awk '
FNR == 1 { inblock = 0; nfiles++ }
{
  raw = $0; out = ""; n = length(raw); i = 1
  while (i <= n) {
    c = substr(raw, i, 1); c2 = substr(raw, i, 2)
    if (inblock) {
      if (c2 == "*/") { inblock = 0; i += 2 } else i++
      out = out " "; continue
    }
    if (c2 == "/*") { inblock = 1; i += 2; out = out "  "; continue }
    if (c2 == "//") break
    if (c == "\"" || c == "\047") {
      q = c; i++
      while (i <= n) {
        d = substr(raw, i, 1)
        if (d == "\\") { i += 2; continue }
        i++
        if (d == q) break
      }
      out = out q q; continue
    }
    out = out c; i++
  }
  if (index(raw, "checksrc: allow")) next
  pre = "(^|[^A-Za-z0-9_.>])"
  scan(out, pre "(v?sprintf|strcpy|strcat|strtok|atoi|gets)[ \t]*\\(", "banned call")
  if (FILENAME !~ /^src\/base\//)
    scan(out, pre "(malloc|calloc|realloc|free)[ \t]*\\(",
         "raw allocation outside src/base (use base/alloc.h)")
}
function scan(s, re, why,   name) {
  while (match(s, re)) {
    name = substr(s, RSTART, RLENGTH); sub(/^[^A-Za-z_]/, "", name)
    sub(/[ \t]*\($/, "", name)
    printf "%s:%d: %s: %s\n", FILENAME, FNR, why, name
    hits++
    s = substr(s, RSTART + RLENGTH)
  }
}
END {
  printf "checksrc: %d file(s), %d hit(s)\n", nfiles, hits
  exit hits ? 1 : 0
}
' "${files[@]}"
