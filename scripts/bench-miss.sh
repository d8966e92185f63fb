#!/usr/bin/env bash
# `npm run bench:miss`: builds the Worker and prints where a MISS's overhead goes, beside minimal
# JavaScript Workers making the same subrequests (see tools/miss-timeline.mjs).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build-worker.sh >/dev/null
node tools/miss-timeline.mjs
