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
exec worker-build --release --no-opt "$@"
