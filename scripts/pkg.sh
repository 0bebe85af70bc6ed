#!/usr/bin/env bash
# `make pkg`: the npm package in pkg/ — wasm-pack's web build with pkg-template/ merged over it.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$(pwd)/.tools/node_modules/.bin:$PATH"
# wasm-pack runs the first wasm-opt on PATH; it must be binaryen ≥ 116 (ours, from npm).
case "$(command -v wasm-opt || true)" in
  "$(pwd)/.tools/"*) ;;
  *) echo "wasm-opt on PATH is not .tools' binaryen; run scripts/setup.sh" >&2; exit 1 ;;
esac
rm -rf pkg
wasm-pack build --release --target web --out-dir pkg --out-name holdfast_wasm
# wasm-pack's own package.json/README/.gitignore give way to ours (name `holdfast`, entry index.js).
rm -f pkg/.gitignore pkg/package.json pkg/README.md
cp pkg-template/* pkg/
SIZE=$(gzip -9 -c pkg/holdfast_wasm_bg.wasm | wc -c)
RAW=$(wc -c < pkg/holdfast_wasm_bg.wasm)
echo "pkg/holdfast_wasm_bg.wasm: $RAW bytes, $SIZE bytes gzip -9"
