#!/usr/bin/env bash
# Builds the dashboard Worker (dashboard/build/worker/shim.mjs + wasm) with the same offline
# toolchain as the proxy (see scripts/build-worker.sh and ../shared/notes/toolchain.md).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/toolchain-env.sh
export RUSTC="$WASM_RUSTC"
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER="$WASM_LINKER"
export WASM_BINDGEN_BIN="${WASM_BINDGEN_BIN:-$(command -v wasm-bindgen)}"
export ESBUILD_BIN="${ESBUILD_BIN:-$PWD/node_modules/esbuild/bin/esbuild}"
cd dashboard
exec worker-build --release --no-opt "$@"
