#!/usr/bin/env bash
# `npm run eval [-- more.tsv ...]`: the semantic cache's decision function on labelled paraphrase
# pairs (precision, recall, false-positive rate, a threshold curve) and the cost of one lookup,
# native and in wasm. Datasets: data/eval/*.tsv (ours) plus any QQP/MRPC-format TSVs given.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/toolchain-env.sh
cargo build -q --release --bin semantic-eval
./target/release/semantic-eval data/eval/*.tsv "$@"
RUSTC="$WASM_RUSTC" CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER="$WASM_LINKER" \
  cargo build -q --release --target wasm32-unknown-unknown --no-default-features --features wasm-bench --lib
node tools/semantic-wasm-bench.mjs target/wasm32-unknown-unknown/release/watchllm_proxy.wasm
