#!/usr/bin/env bash
# The main command: installs what is missing, builds build/ (RelWithDebInfo)
# and runs wasmgate with the given arguments (default: `serve`, the main job,
# on the embedded defaults: 127.0.0.1:8080 and ./wasmgate-data).
#   bash tools/run.sh                      # wasmgate serve
#   bash tools/run.sh run module.wasm      # any wasmgate subcommand
#   bash tools/run.sh --model m.gguf       # serve options alone: `serve ...`
#                                          # (here a local model, "m")
# Setup and build output go to stderr; stdout is wasmgate's own.
set -euo pipefail

cd "$(dirname "$0")/.."

bash tools/setup.sh >&2
if [[ -f build/CMakeCache.txt ]] &&
   ! grep -q '^CMAKE_GENERATOR:INTERNAL=Ninja$' build/CMakeCache.txt; then
  rm -rf build/CMakeCache.txt build/CMakeFiles
fi
if [[ ! -f build/build.ninja ]]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >&2
fi
cmake --build build --target wasmgate >&2

# src/cli may place the binary at the top of build/ or beside its sources.
bin=build/wasmgate
[[ -x $bin ]] || bin=build/src/cli/wasmgate
if (($# == 0)) || [[ $1 == --* && $1 != --help ]]; then
  set -- serve "$@"
fi
exec "$bin" "$@"
