#!/usr/bin/env bash
# The CPU time every process spends on the WebSocket text phase, per client: one client per page
# (the browser's `WebSocket`, holdfast raw, holdfast protocol), `BENCH_CPU=1` for Chromium's
# processes and threads, and the reference server's own CPU from /proc before and after each
# page. BENCHMARKS.md ("Hot path", "What bounds it") reads these. Not part of `make bench`.
#
#   bash scripts/pkg.sh && cargo build --profile bench-server -p holdfast-server
#   bash bench/cpu-split.sh [REPS]      # default 2 alternating repetitions
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$(pwd)/.tools/node_modules/.bin:$PATH"
REPS=${1:-2}
OUT=target/bench/cpu-split
mkdir -p "$OUT"
LOG="$OUT/server.log"
# shellcheck source=scripts/bench-server-up.sh
source scripts/bench-server-up.sh
PID=
trap 'kill $PID 2>/dev/null || true' EXIT
bench_server_up "${CARGO_TARGET_DIR:-target}/bench-server" "$LOG" --faults || exit 1
# utime + stime in clock ticks (USER_HZ 100), as ms.
server_cpu() { awk '{print ($14 + $15) * 10}' "/proc/$PID/stat"; }
for rep in $(seq 1 "$REPS"); do
  for c in ws raw protocol; do
    before=$(server_cpu)
    out=$(BENCH_CPU=1 node bench/run.mjs --server "$URL" --out "$OUT/$c.$rep.json" --suites ws \
      --runs 3 --param wsClients="$c" --param wsPhases=text 2>&1)
    after=$(server_cpu)
    echo "== $c, repetition $rep: server CPU ms $((after - before))"
    grep -E "CPU ms by process|msg/s" <<<"$out" | tail -4
  done
done
