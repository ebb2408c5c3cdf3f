#!/usr/bin/env bash
# Installs every Debian package that wasmgate's build and tests need.
# Idempotent and non-interactive: checks each package with dpkg-query and
# installs only the missing ones (running apt-get update only then).
# Usage: bash tools/setup.sh   (as root, or with sudo available)
set -euo pipefail

PACKAGES=(
  # build
  build-essential cmake ninja-build pkg-config
  # clang toolchain: fuzzing, sanitizers, wasm32-wasi guests
  clang lld llvm libclang-rt-14-dev libclang-rt-14-dev-wasm32 wasi-libc
  # wat2wasm, wast2json, wasm2c
  wabt
  # libraries (see DESIGN.md, "Dependencies")
  libcmocka-dev libjansson-dev libmicrohttpd-dev libcurl4-openssl-dev
  libyaml-dev libsqlite3-dev libhiredis-dev redis-server libssl-dev
  libpcre2-dev libseccomp-dev zlib1g-dev
  # test and benchmark tools
  valgrind wrk hyperfine time python3
  # the tiny test model's generator (tests/llm/make_tiny_model.py)
  python3-numpy git
)

missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  if [[ "$status" != "install ok installed" ]]; then
    missing+=("$p")
  fi
done

# The OPA JavaScript SDK for bench/policy_bench.py (pinned by its
# package-lock.json; needs Node 20 + npm, skipped without them).
opa_js() {
  local dir
  dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/bench/opa-js"
  if [[ -d "$dir/node_modules/@open-policy-agent/opa-wasm" ]]; then return; fi
  if command -v npm >/dev/null 2>&1; then
    (cd "$dir" && npm ci --no-audit --no-fund --silent) ||
      echo "setup: npm ci in bench/opa-js failed (benchmark only)" >&2
  fi
}

# The official OpenAI SDK for the gateway's conformance test
# (tests/gateway/test_sdk.py), pinned by tests/gateway/node's
# package-lock.json. The test needs it: an npm failure fails the setup.
openai_sdk() {
  local dir
  dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/gateway/node"
  if [[ -d "$dir/node_modules/openai" ]]; then return; fi
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1
  then
    echo "setup: node/npm not found; the OpenAI SDK test will be skipped"
    return
  fi
  (cd "$dir" && npm ci --no-audit --no-fund --silent) || {
    echo "setup: npm ci in tests/gateway/node failed" >&2
    exit 1
  }
}

# llama.cpp for the gateway's local provider and WASI-NN (issue 8), in
# deps/llama (git-ignored): the prebuilt shared objects of
# @node-llama-cpp/linux-x64 and, from node-llama-cpp's source bundle
# (llama.cpp v0.5.0), only the headers, gguf-py and one vocab-only GGUF.
# Both pinned by deps/llama/package-lock.json; --ignore-scripts: the
# package's postinstall (which would download or build) never runs.
# `npm install --no-save` rather than `npm ci`: the lock holds only the
# linux-x64 package of node-llama-cpp's 14 optional platform packages, and
# npm ci refuses a lock without the others. Without node/npm the local
# provider is left out (the build and tests say so).
llama_deps() {
  local dir bundle
  dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/deps/llama"
  bundle="$dir/node_modules/node-llama-cpp/llama/gitRelease.bundle"
  if [[ ! -f "$dir/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/libllama.v0.5.0.so" ||
        ! -f "$bundle" ]]; then
    if ! command -v npm >/dev/null 2>&1; then
      echo "setup: npm not found; the local LLM provider will be disabled"
      return
    fi
    (cd "$dir" && npm install --ignore-scripts --omit=optional --no-save \
       --no-audit --no-fund --silent) || {
      echo "setup: npm install in deps/llama failed" >&2
      exit 1
    }
  fi
  if [[ ! -f "$dir/src/include/llama.h" ]]; then
    rm -rf "$dir/src"
    git clone -q --no-checkout "$bundle" "$dir/src"
    git -C "$dir/src" sparse-checkout set --no-cone /include/ \
      /ggml/include/ /gguf-py/ /models/ggml-vocab-llama-spm.gguf
    git -C "$dir/src" checkout -q
  fi
}

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#PACKAGES[@]} packages present"
  opa_js
  openai_sdk
  llama_deps
  exit 0
fi

SUDO=()
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo -n)
  else
    echo "setup: missing packages (${missing[*]}) and not root" >&2
    exit 1
  fi
fi

echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq </dev/null
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
echo "setup: done"
opa_js
openai_sdk
llama_deps
