#!/usr/bin/env bash
# The "Server" scenarios of `make bench` (issue 10): how many idle WebSocket sessions the
# reference server holds (ramp to 10 000; RSS per session), long-poll sessions (1 000; RSS per
# session) and broadcast fan-out to 1 000 WebSocket sessions (messages/s delivered).
#
# Builds holdfast-server and bench-load (profile bench-server when Cargo.toml has it, else
# release), then for each scenario starts a fresh `holdfast-server --bench` on a free loopback
# port, runs `bench-load <scenario>` against it and stops it (trap), so every memory figure
# starts from an idle process. Writes target/bench/server.json (every sample) and
# target/bench/server.md (the table: scenario | figure | target | met?), and prints the table.
# Bounded: each scenario has a deadline, the whole run takes well under 3 minutes.
#
# Knobs (environment): BENCH_IDLE_SESSIONS (10000), BENCH_POLL_SESSIONS (1000),
# BENCH_FANOUT_SESSIONS (1000), BENCH_FANOUT_SECS (10), BENCH_SKIP_BUILD=1 (use the binaries
# already built).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

IDLE=${BENCH_IDLE_SESSIONS:-10000}
POLLS=${BENCH_POLL_SESSIONS:-1000}
FANOUT=${BENCH_FANOUT_SESSIONS:-1000}
FANOUT_SECS=${BENCH_FANOUT_SECS:-10}
OUT=target/bench
PARTS=$OUT/server-parts

# Every session is a socket at both ends (separate processes), plus some slack.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NEED=$((IDLE + 256))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$NEED" ]; then
  echo "[bench-server] open-file limit $(ulimit -n) is below $NEED: run as root or raise it" >&2
  exit 1
fi

if grep -q '^\[profile\.bench-server\]' Cargo.toml; then PROFILE=bench-server; else PROFILE=release; fi
BIN="${CARGO_TARGET_DIR:-target}/$PROFILE"
if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
  echo "[bench-server] building holdfast-server and bench-load (profile $PROFILE)"
  cargo build -q --profile "$PROFILE" -p holdfast-server -p bench-load
fi

mkdir -p "$PARTS"
rm -f "$PARTS"/*.json
LOG=$(mktemp)
PID=
stop_server() {
  if [ -n "$PID" ]; then
    kill "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
    PID=
  fi
}
cleanup() {
  stop_server
  rm -f "$LOG"
}
trap cleanup EXIT

# Starts a fresh `holdfast-server --bench` on a free port: sets PID and URL.
start_server() {
  : >"$LOG"
  "$BIN/holdfast-server" --port 0 --bench >"$LOG" 2>&1 &
  PID=$!
  URL=
  for _ in $(seq 1 100); do
    URL=$(sed -n 's|^listening on ||p' "$LOG" | head -1)
    [ -n "$URL" ] && return 0
    if ! kill -0 "$PID" 2>/dev/null; then cat "$LOG" >&2; echo "[bench-server] server died" >&2; return 1; fi
    sleep 0.1
  done
  cat "$LOG" >&2
  echo "[bench-server] server did not start" >&2
  return 1
}

# Runs one scenario against a fresh server: `scenario <name> <bench-load args>...`. A failed
# scenario is reported and the others still run.
FAILED=()
scenario() {
  local name=$1
  shift
  start_server
  echo "[bench-server] $name against $URL (pid $PID)"
  if ! timeout 120 "$BIN/bench-load" "$name" --url "$URL" --pid "$PID" --out "$PARTS/$name.json" "$@"; then
    echo "[bench-server] $name FAILED" >&2
    FAILED+=("$name")
  fi
  stop_server
}

STARTED=$(date +%s%N)
scenario ws-idle --sessions "$IDLE" --marks 1000,2000,5000 --hold-secs 4
scenario long-poll --sessions "$POLLS" --marks 250,500 --hold-secs 4
scenario fanout --sessions "$FANOUT" --secs "$FANOUT_SECS" --warmup-secs 1
ELAPSED_MS=$((($(date +%s%N) - STARTED) / 1000000))
WALL=$((ELAPSED_MS / 1000)).$(printf %03d $((ELAPSED_MS % 1000)))

"$BIN/bench-load" report --json "$OUT/server.json" --md "$OUT/server.md" --wall-secs "$WALL" \
  --build "$PROFILE" "$PARTS"/*.json
for name in "${FAILED[@]}"; do
  echo "- Scenario \`$name\` failed (no figure); see the \`make bench\` log." >>"$OUT/server.md"
done
echo "[bench-server] wrote $OUT/server.json and $OUT/server.md"
cat "$OUT/server.md"
[ ${#FAILED[@]} -eq 0 ]
