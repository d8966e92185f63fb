#!/usr/bin/env bash
# `npm run eval [-- more.tsv ...]`: the semantic cache's decision on labelled pairs (precision,
# recall, false-positive rate per kind and over thresholds, every wrong hit) and the cost of one
# lookup, native and in wasm. Datasets: data/eval/*.tsv (ours) plus any QQP/MRPC-format TSVs given.
# `npm run eval -- --worker [pairs.tsv ...]`: the same pairs through the running Worker instead
# (store A, ask B, read X-WatchLLM-Cache), the exact key and the semantic path judged together.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/toolchain-env.sh
if [ "${1:-}" = "--worker" ]; then
  shift
  bash scripts/build-worker.sh >/dev/null
  exec node tools/semantic-worker-eval.mjs "$@"
fi
cargo build -q --release --bin semantic-eval
./target/release/semantic-eval data/eval/*.tsv "$@"
RUSTC="$WASM_RUSTC" CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER="$WASM_LINKER" \
  cargo build -q --release --target wasm32-unknown-unknown --no-default-features --features wasm-bench --lib
node tools/semantic-wasm-bench.mjs target/wasm32-unknown-unknown/release/watchllm_proxy.wasm
