#!/usr/bin/env bash
# Installs everything the local stack needs on a fresh machine, idempotently:
# Debian packages (Redis, PostgreSQL 15, Chromium, Debian's rustc with std sources), a wasm32 std built from
# source when no wasm32 target is installed (see ../shared/notes/toolchain.md), wasm-bindgen-cli
# matching Cargo.lock, worker-build, the PostgREST-compatible server, the npm packages, and a Python
# venv (.venv) with the official openai package for the docs' Python samples.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
log() { printf '[setup] %s\n' "$*" >&2; }

SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
export PATH="$HOME/.cargo/bin:$PATH"

# --- Debian packages -------------------------------------------------------------------------
need_apt=()
command -v redis-server >/dev/null || need_apt+=(redis-server)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
command -v psql >/dev/null || need_apt+=(postgresql-client)
# Python with venv: the docs' Python samples run in a venv with the official openai package.
command -v python3 >/dev/null || need_apt+=(python3)
python3 -c 'import ensurepip, venv' 2>/dev/null || need_apt+=(python3-venv)
# Headless Chromium for the dashboard's browser tests (or point CHROMIUM_PATH at another build).
[ -n "${CHROMIUM_PATH:-}" ] || [ -x /usr/bin/chromium ] || need_apt+=(chromium)
if ! rustup target list --installed 2>/dev/null | grep -q wasm32-unknown-unknown; then
  [ -x /usr/bin/rustc ] || need_apt+=(rustc-web cargo-web)
  [ -d /usr/lib/rustlib/src/rust/library ] || need_apt+=(rust-web-src)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  log "apt-get install ${need_apt[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# --- wasm32 toolchain --------------------------------------------------------------------------
source scripts/toolchain-env.sh
if [ "$WASM_RUSTC" = /usr/bin/rustc ] && [ ! -e /usr/lib/rustlib/wasm32-unknown-unknown/lib/.watchllm-std ]; then
  log "building the wasm32 std from source (once, ~3 min)"
  tmp=$(mktemp -d)
  mkdir -p "$tmp/src" && : > "$tmp/src/lib.rs"
  cat > "$tmp/Cargo.toml" <<TOML
[package]
name = "wasmstd_dummy"
version = "0.0.0"
edition = "2021"
[lib]
path = "src/lib.rs"
[profile.release]
panic = "abort"
TOML
  (cd "$tmp" && RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 RUSTFLAGS=-Cembed-bitcode=yes \
     CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER="$WASM_LINKER" \
     /usr/bin/cargo build -q --release --target wasm32-unknown-unknown \
     -Zbuild-std=std,panic_abort,panic_unwind,proc_macro)
  $SUDO mkdir -p /usr/lib/rustlib/wasm32-unknown-unknown/lib
  find "$tmp/target/wasm32-unknown-unknown/release/deps" -name '*.rlib' ! -name '*wasmstd_dummy*' \
    -exec $SUDO cp {} /usr/lib/rustlib/wasm32-unknown-unknown/lib/ \;
  $SUDO touch /usr/lib/rustlib/wasm32-unknown-unknown/lib/.watchllm-std
  rm -rf "$tmp"
fi

# --- cargo-installed tools ----------------------------------------------------------------------
WB_VERSION=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/[^0-9.]/,""); print; exit}' Cargo.lock 2>/dev/null || true)
if [ -n "$WB_VERSION" ] && ! wasm-bindgen --version 2>/dev/null | grep -q " $WB_VERSION"; then
  log "cargo install wasm-bindgen-cli $WB_VERSION"
  cargo install -q wasm-bindgen-cli --version "=$WB_VERSION" --force
fi
if ! worker-build --version 2>/dev/null | grep -q "0.8.7"; then
  log "cargo install worker-build 0.8.7"
  cargo install -q worker-build --version =0.8.7 --force
fi
if ! command -v postrust >/dev/null; then
  log "cargo install postrust-server (PostgREST-compatible, ~6 min)"
  cargo install -q postrust-server --version =3.1.0
fi

# --- npm ------------------------------------------------------------------------------------------
if [ ! -x node_modules/.bin/wrangler ] || [ package.json -nt node_modules/.package-lock.json ]; then
  log "npm install"
  npm install --no-audit --no-fund --loglevel=error >/dev/null
fi
# --- Python (docs samples) ----------------------------------------------------------------------
PY_OPENAI=3.57.0
if ! .venv/bin/python -c "import openai, sys; sys.exit(openai.__version__ != '$PY_OPENAI')" 2>/dev/null; then
  log "python venv (.venv) with openai $PY_OPENAI"
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check "openai==$PY_OPENAI"
fi
log "setup complete"
