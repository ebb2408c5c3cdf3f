#!/usr/bin/env bash
# The whole test run (what CI runs through .ci/run):
#   1. tools/setup.sh                    Debian packages
#   2. build/       RelWithDebInfo       build + ctest
#   3. build-asan/  -DWG_SANITIZE=ON     build + ctest under ASan+UBSan
#   4. build-fuzz/  clang, -DWG_FUZZ=ON  fuzz_module, fuzz_gw_json,
#                   fuzz_redact_stream, fuzz_multipart and fuzz_sse for
#                   $WG_FUZZ_SECONDS (60) each
# Every stage runs even if an earlier one failed; exits non-zero if any did.
# Usage: bash tools/test.sh
set -uo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)

bash tools/setup.sh || { echo "test.sh: setup failed" >&2; exit 1; }

fuzz_seconds=${WG_FUZZ_SECONDS:-60}
ctest_args=(--output-on-failure -j2 --timeout 300 --no-tests=error)
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

failed=()
summary=()
total_run=0 total_failed=0 total_skipped=0 other_failed=0

stage() { printf '\n==== %s ====\n' "$*"; }

# fail_stage DIR WHAT: records a failure that is not a ctest result.
fail_stage() {
  failed+=("$1: $2"); summary+=("$1: $2 FAILED"); other_failed=$((other_failed + 1))
}

# configure DIR CMAKE-ARGS...: a build dir made by another generator is
# reconfigured from scratch.
configure() {
  local dir=$1
  shift
  stage "$dir: configure"
  if [[ -f "$dir/CMakeCache.txt" ]] &&
     ! grep -q '^CMAKE_GENERATOR:INTERNAL=Ninja$' "$dir/CMakeCache.txt"; then
    echo "test.sh: $dir was not made by Ninja; reconfiguring from scratch"
    rm -rf "$dir/CMakeCache.txt" "$dir/CMakeFiles"
  fi
  cmake -S . -B "$dir" -G Ninja "$@" || { fail_stage "$dir" configure; return 1; }
}

# run_ctest DIR: runs ctest in DIR, keeps its summary line and counts.
run_ctest() {
  local dir=$1 log rc junit fails=0
  log="$dir/ctest.log"
  junit="$root/$dir/ctest-junit.xml"
  rm -f "$junit"
  (cd "$dir" && ctest "${ctest_args[@]}" --output-junit "$junit") 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  local line
  line=$(grep -E '[0-9]+% tests passed' "$log" | tail -n1)
  summary+=("$dir: ${line:-no ctest summary (rc=$rc)}")
  if [[ -f "$junit" ]]; then
    # <testsuite name=".." tests="N" failures="F" disabled="D" skipped="S" ...>
    local head tests skips
    head=$(tr '\n\t' '  ' <"$junit" | grep -o '<testsuite [^>]*>' | head -n1)
    tests=$(sed -nE 's/.* tests="([0-9]+)".*/\1/p' <<<"$head")
    fails=$(sed -nE 's/.* failures="([0-9]+)".*/\1/p' <<<"$head")
    skips=$(sed -nE 's/.* skipped="([0-9]+)".*/\1/p' <<<"$head")
    total_run=$((total_run + ${tests:-0}))
    total_failed=$((total_failed + ${fails:-0}))
    total_skipped=$((total_skipped + ${skips:-0}))
  fi
  if ((rc != 0)) || [[ -z "$line" ]]; then
    failed+=("$dir: ctest")
    ((${fails:-0} > 0)) || other_failed=$((other_failed + 1))
    return 1
  fi
}

# build_and_test DIR CMAKE-ARGS...
build_and_test() {
  local dir=$1
  shift
  configure "$dir" "$@" || return 1
  stage "$dir: build"
  cmake --build "$dir" -j "$(nproc)" || { fail_stage "$dir" build; return 1; }
  stage "$dir: ctest"
  run_ctest "$dir"
}

start=$SECONDS

# One AOT cache for both builds: the compiled test policies are the same.
aot_cache=(-DWG_AOT_TEST_CACHE="$root/build-aot-cache")
build_and_test build -DCMAKE_BUILD_TYPE=RelWithDebInfo "${aot_cache[@]}"
build_and_test build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWG_SANITIZE=ON "${aot_cache[@]}"

# Fuzz smoke runs: libFuzzer exits non-zero on a crash, leak, timeout or
# OOM and writes the input to build-fuzz/artifacts/.
# fuzz_one DIR TARGET SEEDS...: runs TARGET for $fuzz_seconds on a copy of
# the seed files.
fuzz_one() {
  local dir=$1 target=$2
  shift 2
  stage "$dir: $target for ${fuzz_seconds}s"
  rm -rf "$dir/corpus_$target"
  mkdir -p "$dir/corpus_$target" "$dir/artifacts"
  cp "$@" "$dir/corpus_$target/"
  local log="$dir/$target.log"
  "$dir/tests/fuzz/$target" -max_total_time="$fuzz_seconds" \
    -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$dir/artifacts/" "$dir/corpus_$target/" >"$log" 2>&1
  local rc=$?
  tail -n 40 "$log"
  if ((rc != 0)); then
    fail_stage "$dir" "$target (rc=$rc, see $log and $dir/artifacts/)"
    return 1
  fi
  local runs
  runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$')
  summary+=("$dir: $target ok, ${runs:-?} runs in ${fuzz_seconds}s")
}

fuzz() {
  local dir=build-fuzz
  # CC only counts at the first configure: start afresh if not clang.
  if [[ -f "$dir/CMakeCache.txt" ]] &&
     ! grep -qE '^CMAKE_C_COMPILER:[A-Z]+=.*clang' "$dir/CMakeCache.txt"; then
    rm -rf "$dir/CMakeCache.txt" "$dir/CMakeFiles"
  fi
  CC=clang configure "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWG_FUZZ=ON -DWG_TESTS=OFF \
    -DWG_SANITIZE=ON || return 1
  stage "$dir: build"
  cmake --build "$dir" -j "$(nproc)" --target fuzz_module fuzz_corpus \
    fuzz_gw_json fuzz_redact_stream fuzz_multipart fuzz_sse ||
    { fail_stage "$dir" build; return 1; }
  fuzz_one "$dir" fuzz_module "$dir"/tests/fuzz/corpus/*.wasm
  fuzz_one "$dir" fuzz_gw_json "$root"/tests/fuzz/json_seeds/*
  fuzz_one "$dir" fuzz_redact_stream "$root"/tests/fuzz/redact_seeds/*
  fuzz_one "$dir" fuzz_multipart "$root"/tests/fuzz/multipart_seeds/*
  fuzz_one "$dir" fuzz_sse "$root"/tests/fuzz/sse_seeds/*
}
fuzz

stage "summary ($((SECONDS - start))s)"
for s in "${summary[@]}"; do echo "$s"; done
if ((${#failed[@]})); then
  echo "FAILED:"
  for f in "${failed[@]}"; do echo "  $f"; done
fi
# The plain closing line: ctest counts of both builds (skipped counted
# apart); a failed configure, build or fuzz run counts as one failure.
echo "total: $((total_run - total_failed - total_skipped)) passed," \
  "$((total_failed + other_failed)) failed, $total_skipped skipped"
((${#failed[@]} == 0))
