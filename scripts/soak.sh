#!/usr/bin/env bash
# `npm run soak`: builds the Worker and runs the chaos soak (tools/soak.mjs; SOAK_SECONDS, default
# 90; SOAK_SEED replays a run's mix; SOAK_KINDS and SOAK_FAULTS=0 narrow a finding down).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build-worker.sh >/dev/null
node tools/soak.mjs
