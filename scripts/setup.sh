#!/usr/bin/env bash
# Installs everything `make test` / `make demo` / `make pkg` need on a fresh Debian 12 machine.
# Every step checks first and is skipped when already satisfied, so re-runs take seconds.
# See ../shared/docs/toolchain.md for why each choice is what it is (no Debian binaryen,
# wasm-bindgen-cli without --locked, no exported GECKODRIVER).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
TOOLS="$ROOT/.tools"
export PATH="$HOME/.cargo/bin:$TOOLS/node_modules/.bin:$PATH"

log() { printf '\033[1;34m[setup]\033[0m %s\n' "$*"; }

# The wasm-bindgen CLI must match the library version locked in Cargo.lock exactly.
WB_VERSION=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/version = |"/, ""); print; exit}' Cargo.lock)

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  log "adding wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# The npm package is built on a pinned nightly: `-Zbuild-std` with the immediate-abort panic
# strategy drops the panic and formatting machinery from the module (BENCHMARKS.md, "Size").
# Tests build on stable; only scripts/pkg.sh uses this toolchain.
PKG_NIGHTLY=$(cat "$ROOT/scripts/pkg-nightly")
if [ ! -d "$(rustup run "$PKG_NIGHTLY" rustc --print sysroot 2>/dev/null)/lib/rustlib/src/rust/library" ]; then
  log "rustup toolchain install $PKG_NIGHTLY with rust-src, for the package build"
  rustup toolchain install "$PKG_NIGHTLY" --profile minimal --component rust-src
fi

need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium-driver)
command -v firefox-esr >/dev/null 2>&1 || need_apt+=(firefox-esr)
# brotli: the package's size is reported gzip -9 and brotli (scripts/pkg.sh).
command -v brotli >/dev/null 2>&1 || need_apt+=(brotli)
# redis-server and haproxy: the two-node cluster harness (scripts/with-cluster.sh); only the
# binaries are used, never the system services.
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
[ -x /usr/sbin/haproxy ] || command -v haproxy >/dev/null 2>&1 || need_apt+=(haproxy)
if [ ${#need_apt[@]} -gt 0 ]; then
  log "apt-get install ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi

if ! command -v wasm-pack >/dev/null 2>&1; then
  log "cargo install wasm-pack"
  cargo install wasm-pack --locked
fi

if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WB_VERSION" ]; then
  log "cargo install wasm-bindgen-cli $WB_VERSION"
  # Not --locked: its lockfile pins a crate version the registry lacks.
  cargo install wasm-bindgen-cli --version "$WB_VERSION" --force
fi

if ! command -v geckodriver >/dev/null 2>&1; then
  log "cargo install geckodriver"
  cargo install geckodriver --locked
fi

# A good wasm-opt (binaryen >= 116) from npm, first on PATH via the Makefile. Never Debian's.
if [ ! -x "$TOOLS/node_modules/.bin/wasm-opt" ]; then
  log "npm install binaryen (wasm-opt) into .tools/"
  mkdir -p "$TOOLS"
  npm install --prefix "$TOOLS" --no-audit --no-fund --silent binaryen@132
fi
# Playwright's driver only (never `playwright install`: it downloads browsers); it drives
# Debian's Chromium for the end-to-end test of the npm package and the demo page.
if [ ! -d "$TOOLS/node_modules/playwright-core" ]; then
  log "npm install playwright-core into .tools/"
  mkdir -p "$TOOLS"
  npm install --prefix "$TOOLS" --no-audit --no-fund --silent playwright-core@1
fi
# esbuild measures the package as a user's bundle ships it (scripts/pkg.sh's size budget).
if [ ! -x "$TOOLS/node_modules/.bin/esbuild" ]; then
  log "npm install esbuild into .tools/"
  mkdir -p "$TOOLS"
  npm install --prefix "$TOOLS" --no-audit --no-fund --silent esbuild@0.28.2
fi
log "toolchain ready (wasm-bindgen $WB_VERSION)"
