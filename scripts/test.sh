#!/usr/bin/env bash
# `npm test`: sets up a fresh machine (scripts/setup.sh), runs the native unit tests (proxy and
# dashboard), builds both Workers, then runs the integration suite against them in workerd with
# real Redis and PostgreSQL, and the dashboard in headless Chromium (screenshots in
# test-output/screenshots).
# Everything the suite starts is stopped when it ends.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
echo "== unit tests (native)"
cargo test --locked --workspace
cargo build --locked --release --bin semantic-seed
echo "== building the Workers (proxy, dashboard)"
bash scripts/build-worker.sh >/dev/null
bash scripts/build-dashboard.sh >/dev/null
echo "== integration tests (workerd + Redis + PostgreSQL)"
node --test --test-reporter=spec tests/integration.test.mjs
