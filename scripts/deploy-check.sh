#!/usr/bin/env bash
# Builds both Workers the way `wrangler deploy` does (`wrangler deploy --dry-run`: the [build]
# command, then wrangler's own bundling and validation), offline, and fails if a bundle would not
# deploy or its gzipped size is over the Workers Free limit (3 MiB). Prints both sizes.
set -euo pipefail
cd "$(dirname "$0")/.."
export WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false CI=true NO_COLOR=1
LIMIT_KIB=3072
WRANGLER="$PWD/node_modules/.bin/wrangler"
check() {
  local dir=$1 name=$2 out
  out=$(mktemp -d)
  local log
  if ! log=$(cd "$dir" && "$WRANGLER" deploy --dry-run --outdir "$out" 2>&1); then
    echo "$log" | tail -30 >&2
    echo "deploy check: $name would not deploy" >&2
    exit 1
  fi
  local line gzip
  line=$(grep -o 'Total Upload: .*' <<<"$log")
  gzip=$(sed -E 's/.*gzip: ([0-9.]+) KiB.*/\1/' <<<"$line")
  echo "deploy check: $name $line (limit ${LIMIT_KIB} KiB gzipped)"
  if awk -v g="$gzip" -v l="$LIMIT_KIB" 'BEGIN { exit !(g > l) }'; then
    echo "deploy check: $name is over the size limit" >&2
    exit 1
  fi
  rm -rf "$out"
}
check . proxy
check dashboard dashboard
