#!/usr/bin/env bash
# Builds the Worker (build/worker/shim.mjs + wasm) with worker-build, using the offline toolchain
# described in ../shared/notes/toolchain.md: no downloads of wasm-bindgen, wasm-opt or esbuild.
# WORKER_DIR selects another Worker crate of the workspace (scripts/build-dashboard.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/toolchain-env.sh
export RUSTC="$WASM_RUSTC"
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER="$WASM_LINKER"
export WASM_BINDGEN_BIN="${WASM_BINDGEN_BIN:-$(command -v wasm-bindgen)}"
export ESBUILD_BIN="${ESBUILD_BIN:-$PWD/node_modules/esbuild/bin/esbuild}"
cd "${WORKER_DIR:-.}"
worker-build --release --no-opt "$@"

# The proxy's wasm through Binaryen's optimiser (wasm-opt -O3, from npm: worker-build's own
# download of it is unreachable here). In `npm run bench:miss`, interleaved with the unoptimised
# build, it took 0.21-0.25 ms off a MISS and 0.14-0.23 ms of workerd's CPU, and the wasm from 1,205
# to 968 KiB. Not the dashboard's: nothing there is that hot. wrangler runs this script at every
# start, so the result is kept by the input's hash (target/wasm-opt/) and the 20 s pass runs once
# per change. The features are those rustc and wasm-bindgen emit (exception handling for
# wasm-bindgen's catch wrappers); the wasm declares none for wasm-opt to detect.
if [ -z "${WORKER_DIR:-}" ]; then
  wasm=build/index_bg.wasm
  cached="target/wasm-opt/$(sha256sum "$wasm" | cut -c1-64).wasm"
  if [ ! -f "$cached" ]; then
    mkdir -p target/wasm-opt
    node_modules/.bin/wasm-opt -O3 --enable-exception-handling --enable-reference-types \
      --enable-multivalue --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
      --enable-mutable-globals "$wasm" -o "$cached.tmp"
    mv "$cached.tmp" "$cached"
    find target/wasm-opt -name '*.wasm' -mtime +7 -delete
  fi
  cp "$cached" "$wasm"
fi
