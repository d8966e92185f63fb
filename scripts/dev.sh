#!/usr/bin/env bash
# `npm run dev`: sets up a fresh machine (scripts/setup.sh), then runs the whole local stack:
# the proxy on :8787, the dashboard on :8789 and everything behind them (tools/dev.mjs).
# Ctrl-C stops all of it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
exec node tools/dev.mjs
