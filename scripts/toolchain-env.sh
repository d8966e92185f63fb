# Sourced by the scripts: picks the compiler that has a wasm32 std and the linker for it.
# With rustup's wasm32 target installed (a normal developer machine) nothing special is needed;
# otherwise Debian's rustc gets a wasm32 std built from source (scripts/setup.sh).
export PATH="$HOME/.cargo/bin:$PATH"
if rustup target list --installed 2>/dev/null | grep -q wasm32-unknown-unknown; then
  WASM_RUSTC=$(rustup which rustc)
else
  WASM_RUSTC=/usr/bin/rustc
fi
WASM_LINKER=$(ls "$(rustc --print sysroot)"/lib/rustlib/x86_64-unknown-linux-gnu/bin/rust-lld 2>/dev/null || echo rust-lld)
export WASM_RUSTC WASM_LINKER
