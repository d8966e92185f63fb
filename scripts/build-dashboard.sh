#!/usr/bin/env bash
# Builds the dashboard Worker (dashboard/build/worker/shim.mjs + wasm) the way the proxy is built.
set -euo pipefail
WORKER_DIR=dashboard exec bash "$(dirname "$0")/build-worker.sh" "$@"
