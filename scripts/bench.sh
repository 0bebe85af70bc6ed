#!/usr/bin/env bash
# `make bench`: every headline number beside the raw browser API's, measured in the same run, into
# BENCHMARKS.md (the part between its bench markers; bench/report.mjs). Not part of `make test`.
#
#   1. the toolchain (scripts/setup.sh) and the package (scripts/pkg.sh: pkg/, target/pkg/size.txt);
#   2. the reference server, profile bench-server (Cargo.toml: release at opt-level 3), started with
#      its default timers plus `--faults --bench` (fault routes, plain HTTP baselines) on a free
#      loopback port;
#   3. the browser benchmarks (bench/run.mjs: WebSocket, HTTP transports, recovery, memory), each
#      page in a headless Chromium of its own that nothing instruments → target/bench/browser.json;
#   4. the server scenarios, when scripts/bench-server.sh exists (bench-load, fresh servers of its
#      own) → target/bench/server.md and server.json;
#   5. BENCHMARKS.md regenerated; everything started here is stopped (trap).
#
# Knobs (environment): BENCH_SUITES (ws,http,recovery,memory), BENCH_RUNS (5),
# BENCH_RECOVERY_RUNS (20), BENCH_MEMORY_RUNS (5), BENCH_SKIP_SERVER=1 (no server scenarios; the
# report then says they did not run), CHROMIUM (/usr/bin/chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$(pwd)/.tools/node_modules/.bin:$PATH"
STARTED=$(date +%s)
# Other work on the machine: the load average before this script adds its own builds.
LOAD_BEFORE=$(cut -d' ' -f1 /proc/loadavg)
# What is measured: the commit, and whether the package's or server's sources differ from it.
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo "")
DIRTY=$( [ -n "$(git status --porcelain -- src server Cargo.toml Cargo.lock pkg-template 2>/dev/null)" ] && echo true || echo false)
OUT=target/bench
SUITES=${BENCH_SUITES:-ws,http,recovery,memory}

bash scripts/setup.sh
bash scripts/pkg.sh
echo "[bench] building holdfast-server (profile bench-server)"
cargo build -q --profile bench-server -p holdfast-server
mkdir -p "$OUT"

# shellcheck source=scripts/bench-server-up.sh
source scripts/bench-server-up.sh
LOG=$(mktemp)
PID=
cleanup() {
  if [ -n "$PID" ]; then
    kill "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
  fi
  rm -f "$LOG"
}
trap cleanup EXIT

bench_server_up "${CARGO_TARGET_DIR:-target}/bench-server" "$LOG" --faults || exit 1
echo "[bench] reference server at $URL (pid $PID)"

STATUS=0
node bench/run.mjs --server "$URL" --out "$OUT/browser.json" --suites "$SUITES" \
  --runs "${BENCH_RUNS:-5}" --recovery-runs "${BENCH_RECOVERY_RUNS:-20}" \
  --memory-runs "${BENCH_MEMORY_RUNS:-5}" || STATUS=1
kill "$PID" 2>/dev/null || true
wait "$PID" 2>/dev/null || true
PID=

# The server scenarios start fresh servers of their own. A stale table must not be reported.
rm -f "$OUT/server.md" "$OUT/server.json"
if [ -f scripts/bench-server.sh ] && [ "${BENCH_SKIP_SERVER:-0}" != 1 ]; then
  echo "[bench] server scenarios (scripts/bench-server.sh)"
  bash scripts/bench-server.sh || { echo "[bench] scripts/bench-server.sh failed" >&2; STATUS=1; }
fi

WALL=$(($(date +%s) - STARTED))
node -e '
  const { execSync } = require("child_process");
  const v = (c) => { try { return execSync(c, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim(); } catch { return null; } };
  const fs = require("fs");
  fs.writeFileSync(process.argv[1], JSON.stringify({
    rustc: v("rustc --version"),
    nightly: fs.readFileSync("scripts/pkg-nightly", "utf8").split("\n").find((l) => l && !l.startsWith("#")),
    wasmBindgen: v("wasm-bindgen --version"),
    commit: process.argv[4] || null,
    dirty: process.argv[5] === "true",
    wallSeconds: Number(process.argv[2]),
    loadBefore: Number(process.argv[3]),
  }, null, 2) + "\n");
' "$OUT/tools.json" "$WALL" "$LOAD_BEFORE" "$COMMIT" "$DIRTY"
node bench/report.mjs --browser "$OUT/browser.json" --size target/pkg/size.txt \
  --server "$OUT/server.md" --tools "$OUT/tools.json" --out BENCHMARKS.md
echo "[bench] done in ${WALL} s"
exit $STATUS
