#!/usr/bin/env bash
# Runs one spec-test script: converts it with wast2json into the build
# directory, then runs it with `wasmgate spectest`.
#   run-wast.sh WASMGATE FILE.wast OUTDIR [WAST2JSON-FLAGS...]
# Writes OUTDIR/NAME/NAME.json (+ NAME.N.wasm/.wat); passes iff wasmgate
# exits 0. $WAST2JSON overrides the converter (default: wast2json in PATH).
set -euo pipefail

if (($# < 3)); then
  echo "usage: $0 WASMGATE FILE.wast OUTDIR [WAST2JSON-FLAGS...]" >&2
  exit 2
fi
wasmgate=$1 wast=$2 outdir=$3
shift 3
name=$(basename "$wast" .wast)
dir="$outdir/$name"

rm -rf "$dir"
mkdir -p "$dir"
if ! "${WAST2JSON:-wast2json}" "$@" "$wast" -o "$dir/$name.json"; then
  echo "run-wast: wast2json failed on $wast" >&2
  exit 1
fi
exec "$wasmgate" spectest "$dir/$name.json"
