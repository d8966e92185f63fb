#!/usr/bin/env bash
# `npm run bench:usage`: seeds usage_logs on the local PostgreSQL and prints how fast the
# dashboard's usage queries are (see tools/bench-usage.mjs for what is measured).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
node tools/bench-usage.mjs
