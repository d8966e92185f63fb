#!/usr/bin/env bash
# `npm run bench`: builds the Worker and prints latency, throughput, size and start-up figures.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build-worker.sh >/dev/null
node tools/bench.mjs
