#!/usr/bin/env bash
# Start-up and resident size of `wasmgate run` against other engines, in one
# run (issue 4, items 4 and 5). Not part of ctest.
#
#   bash bench/startup.sh [BUILD_DIR] [RUNS]      (defaults: build, 100)
#
# Prints, for each engine (wasmgate; wasm3 and iwasm when found: $WASM3,
# $IWASM, else their places under /work/ext, see bench/README.md):
#   - the WASI hello world (BUILD_DIR/bench/wasm/hello.wasm), whole process:
#     hyperfine's mean and σ over RUNS runs (-N, 10 warm-up runs; all
#     engines in one hyperfine invocation), its mean user + system CPU time
#     (steadier than wall time on a busy machine), and the minor page
#     faults;
#   - CoreMark-like (coremark.wasm): peak RSS (GNU time's %M, median of 11
#     runs) and page faults;
# each also as a ratio to wasm3's, and the targets: hello no slower than
# wasm3, coremark's peak RSS at most wasm3's plus the guest's linear memory
# (its initial pages; coremark does not grow its memory).
# Needs hyperfine and GNU time (/usr/bin/time), both installed by
# tools/setup.sh.
set -euo pipefail

cd "$(dirname "$0")/.."
build=${1:-build}
runs=${2:-100}
wasm_dir=$build/bench/wasm
wasmgate=$build/src/cli/wasmgate
for f in "$wasmgate" "$wasm_dir/hello.wasm" "$wasm_dir/coremark.wasm"; do
  [[ -e $f ]] || { echo "startup.sh: $f missing: build $build first" >&2; exit 1; }
done
command -v hyperfine >/dev/null || { echo "startup.sh: hyperfine missing (tools/setup.sh)" >&2; exit 1; }
[[ -x /usr/bin/time ]] || { echo "startup.sh: GNU time missing (tools/setup.sh)" >&2; exit 1; }

names=(wasmgate)
cmds=("$wasmgate run")
wasm3=${WASM3:-/work/ext/wasm3/build/wasm3}
iwasm=${IWASM:-/work/ext/wamr/product-mini/platforms/linux/build/iwasm}
[[ -x $wasm3 ]] && { names+=(wasm3); cmds+=("$wasm3"); }
[[ -x $iwasm ]] && { names+=(iwasm); cmds+=("$iwasm"); }
if [[ ! -x $wasm3 ]]; then
  echo "startup.sh: wasm3 not found (\$WASM3): no ratios" >&2
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# hello: all engines in one hyperfine run.
hf_args=()
for i in "${!names[@]}"; do
  hf_args+=(-n "${names[$i]}" "${cmds[$i]} $wasm_dir/hello.wasm")
done
hyperfine -N -w 10 -r "$runs" --export-json "$tmp/hello.json" "${hf_args[@]}" \
  >"$tmp/hyperfine.txt" 2>&1 || { cat "$tmp/hyperfine.txt" >&2; exit 1; }

# measure NAME CMD PROGRAM COUNT: COUNT runs under GNU time, one
# "maxrss_kib minor_faults" line each, into $tmp/NAME.PROGRAM.
measure() {
  local name=$1 cmd=$2 prog=$3 count=$4
  : >"$tmp/$name.$prog"
  for ((k = 0; k < count; k++)); do
    # shellcheck disable=SC2086 # cmd is a command and its options
    /usr/bin/time -a -o "$tmp/$name.$prog" -f "%M %R" \
      $cmd "$wasm_dir/$prog.wasm" >/dev/null
  done
}
for i in "${!names[@]}"; do
  measure "${names[$i]}" "${cmds[$i]}" hello 5
  measure "${names[$i]}" "${cmds[$i]}" coremark 11
done

pages=$("$wasmgate" inspect "$wasm_dir/coremark.wasm" |
        sed -nE 's/^ *0: min ([0-9]+) pages.*/\1/p' | head -n1)

python3 - "$tmp" "${pages:-0}" "${names[@]}" <<'EOF'
import json, statistics, sys
tmp, pages, names = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
hello = {r["command"]: r for r in json.load(open(tmp + "/hello.json"))["results"]}

def med(name, prog, col):
    rows = [l.split() for l in open("%s/%s.%s" % (tmp, name, prog)) if l.strip()]
    return statistics.median(int(r[col]) for r in rows)

def ratio(v, base):
    return "%.2f×" % (v / base) if base else "–"

base = "wasm3" if "wasm3" in names else None
def cpu(r):
    return r["user"] + r["system"]

print("| engine | hello mean ms (σ) | × wasm3 | hello CPU ms | × wasm3 | "
      "hello page faults | coremark peak RSS KiB | × wasm3 | "
      "coremark page faults |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for n in names:
    h = hello[n]
    b = hello[base] if base else None
    rss, brss = med(n, "coremark", 0), med(base, "coremark", 0) if base else 0
    print("| %s | %.2f (%.2f) | %s | %.2f | %s | %d | %d | %s | %d |" % (
        n, h["mean"] * 1e3, h["stddev"] * 1e3,
        ratio(h["mean"], b["mean"]) if b else "–", cpu(h) * 1e3,
        ratio(cpu(h), cpu(b)) if b else "–", med(n, "hello", 1),
        rss, ratio(rss, brss), med(n, "coremark", 1)))
if base:
    g, w = hello["wasmgate"]["mean"], hello[base]["mean"]
    lin = pages * 64
    rss, brss = med("wasmgate", "coremark", 0), med(base, "coremark", 0)
    print()
    print("hello: wasmgate %.2f ms vs wasm3 %.2f ms (%.2f×; target ≤ 1.00×): %s"
          % (g * 1e3, w * 1e3, g / w, "met" if g <= w else "NOT met"))
    print("coremark peak RSS: wasmgate %d KiB vs wasm3 %d KiB + linear memory "
          "%d KiB = %d KiB: %s" % (rss, brss, lin, brss + lin,
                                   "met" if rss <= brss + lin else "NOT met"))
EOF
