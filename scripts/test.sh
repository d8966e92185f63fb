#!/usr/bin/env bash
# `npm test`: sets up a fresh machine (scripts/setup.sh), runs the native unit tests, builds the
# Worker, then runs the integration suite against it in workerd with real Redis and PostgreSQL.
# Everything the suite starts is stopped when it ends.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
echo "== unit tests (native)"
cargo test --locked
cargo build --locked --release --bin semantic-seed
echo "== building the Worker"
bash scripts/build-worker.sh >/dev/null
echo "== integration tests (workerd + Redis + PostgreSQL)"
node --test --test-reporter=spec tests/integration.test.mjs
