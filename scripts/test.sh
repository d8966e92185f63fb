#!/usr/bin/env bash
# `npm test`: sets up a fresh machine (scripts/setup.sh), checks formatting and lints (clippy with
# -D warnings, native and for wasm32, where the Worker glue is), runs the native unit tests (proxy,
# dashboard, worker-util) and the property tests (optimised, case counts printed), builds both
# Workers as `wrangler deploy` would (a bundle that would not deploy, or is over the size limit,
# fails), then runs the integration suite against them in workerd with real Redis and PostgreSQL,
# and the dashboard in headless Chromium (screenshots in test-output/screenshots).
# Everything the suite starts is stopped when it ends.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
source scripts/toolchain-env.sh
echo "== format and lints (native and wasm32)"
cargo fmt --all --check
cargo clippy --locked --workspace --all-targets -- -D warnings
RUSTC="$WASM_RUSTC" CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER="$WASM_LINKER" \
  cargo clippy --locked --workspace --release --target wasm32-unknown-unknown -- -D warnings
echo "== unit tests (native)"
# Not the property tests (tests/properties.rs): they run once, next, optimised.
cargo test --locked --workspace --lib --bins
echo "== property tests (native, optimised; each prints its case count and time)"
started=$SECONDS
cargo test --locked --profile proptest --test properties -- --nocapture
echo "property tests: $((SECONDS - started)) s, build included"
cargo build --locked --release --bin semantic-seed
echo "== building the Workers as wrangler deploy would (proxy, dashboard)"
bash scripts/deploy-check.sh
echo "== integration tests (workerd + Redis + PostgreSQL)"
node --test --test-reporter=spec tests/integration.test.mjs
