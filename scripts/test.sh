#!/usr/bin/env bash
# `make test`: install what is missing, then every suite; fails on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$(pwd)/.tools/node_modules/.bin:$PATH"
# An exported GECKODRIVER makes `wasm-pack test --chrome` run Firefox (toolchain.md, trap 3).
unset GECKODRIVER CHROMEDRIVER

echo "== host: core, protocol, config (simulated clock) and server"
cargo test --workspace
# Feature `serde` (Config from a file, for Rust apps).
cargo test -p holdfast --features serde --test config_serde

echo "== browsers: headless Chromium and Firefox against the reference server"
# The runner's timeout covers the whole run in one browser, not one test (~7 min each now).
export WASM_BINDGEN_TEST_TIMEOUT=${WASM_BINDGEN_TEST_TIMEOUT:-900}
bash scripts/with-server.sh wasm-pack test --headless --chrome --firefox -- --test browser -- --nocapture

echo "== cluster: two Redis-backed nodes behind HAProxy (no stickiness), headless Chromium + Firefox"
# scripts/with-cluster.sh starts redis-server, two supervised holdfast-server --redis nodes and
# HAProxy on loopback ports, and stops them all. Every transport: churn on both nodes, the node
# holding the session killed, Redis restarted; 2000 echoes each, 0 lost, 0 duplicated (~4 min).
bash scripts/with-cluster.sh wasm-pack test --headless --chrome --firefox -- --test browser_cluster -- --nocapture

echo "== end to end: the npm package and the demo page in headless Chromium (playwright-core)"
bash scripts/pkg.sh
bash scripts/pkg-matrix.sh
# demo.mjs: the page opens and echoes, the JS API; package-api.mjs: the entries before and after the
# engine loads, holdfast/slim, the WebSocket-compatible details; demo-faults.mjs: a 20/s numbered
# stream through every fault button, 0 lost / 0 duplicated, screenshots in target/e2e/; lifecycle.mjs:
# frozen page, bfcache, hidden tab under intensive throttling (75 s idle; make soak: 10 min), offline
# (raw CDP; it starts its own servers with a 120 s session TTL and a fault proxy per run; ~2.5 min).
SERVER_ARGS="--www www --pkg pkg" PLAYWRIGHT_CORE="$(pwd)/.tools/node_modules/playwright-core" \
  bash scripts/with-server.sh sh -c \
  'node tests/e2e/demo.mjs "$HOLDFAST_TEST_SERVER" && node tests/e2e/package-api.mjs "$HOLDFAST_TEST_SERVER" \
    && node tests/e2e/demo-faults.mjs "$HOLDFAST_TEST_SERVER" && node tests/e2e/lifecycle.mjs'
echo "== all tests passed"
