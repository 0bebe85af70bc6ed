#!/usr/bin/env bash
# `make soak`: the long lifecycle runs, not part of `make test`: tests/e2e/lifecycle.mjs with the
# hidden tabs idle 10 minutes under Chromium's intensive wake-up throttling (issue 11, item 2),
# then every other lifecycle scenario as in `make test`. LIFECYCLE_IDLE_S overrides the idle time.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$(pwd)/.tools/node_modules/.bin:$PATH"
bash scripts/pkg.sh
cargo build -q -p holdfast-server -p holdfast-fault-proxy
LIFECYCLE_IDLE_S=${LIFECYCLE_IDLE_S:-600} LIFECYCLE_SILENT_ROUNDS=${LIFECYCLE_SILENT_ROUNDS:-3} node tests/e2e/lifecycle.mjs
