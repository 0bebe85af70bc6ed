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
#
# Then the store comparison ("Redis store (one node)" in server.md): one redis-server of its own
# on a free loopback port (AOF, appendfsync everysec, no RDB, in a temporary directory), and for
# each of ws-idle, fanout and echo a fresh server with the in-memory store and then a fresh one
# with `--redis URL --node-name bench` (Redis emptied before each), so both stores are measured
# in the same run, side by side. Skipped (and said so in server.md) without redis-server.
# Bounded: each scenario has a deadline; everything started here is stopped (trap).
#
# Knobs (environment): BENCH_IDLE_SESSIONS (10000), BENCH_POLL_SESSIONS (1000),
# BENCH_FANOUT_SESSIONS (1000), BENCH_FANOUT_SECS (10), BENCH_STORE_IDLE_SESSIONS (as
# BENCH_IDLE_SESSIONS), BENCH_ECHO_MESSAGES (2000), BENCH_ECHO_RUNS (3), BENCH_SKIP_STORE=1 (no
# store comparison), REDIS_SERVER (redis-server), BENCH_OUT (target/bench: where server.json,
# server.md and the parts go), BENCH_SKIP_BUILD=1 (use the binaries already built).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

IDLE=${BENCH_IDLE_SESSIONS:-10000}
POLLS=${BENCH_POLL_SESSIONS:-1000}
FANOUT=${BENCH_FANOUT_SESSIONS:-1000}
FANOUT_SECS=${BENCH_FANOUT_SECS:-10}
STORE_IDLE=${BENCH_STORE_IDLE_SESSIONS:-$IDLE}
ECHO_MESSAGES=${BENCH_ECHO_MESSAGES:-2000}
ECHO_RUNS=${BENCH_ECHO_RUNS:-3}
REDIS_SERVER=${REDIS_SERVER:-redis-server}
OUT=${BENCH_OUT:-target/bench}
PARTS=$OUT/server-parts

# Every session is a socket at both ends (separate processes), plus some slack.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NEED=$(( (IDLE > STORE_IDLE ? IDLE : STORE_IDLE) + 256 ))
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
REDIS_PID=
REDIS_DIR=
stop_server() {
  if [ -n "$PID" ]; then
    kill "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
    PID=
  fi
}
stop_redis() {
  if [ -n "$REDIS_PID" ]; then
    kill "$REDIS_PID" 2>/dev/null || true
    wait "$REDIS_PID" 2>/dev/null || true
    REDIS_PID=
  fi
}
cleanup() {
  stop_server
  stop_redis
  rm -f "$LOG"
  if [ -n "$REDIS_DIR" ]; then rm -rf "$REDIS_DIR"; fi
}
trap cleanup EXIT

# Starts a fresh `holdfast-server --bench [ARGS...]` on a free port: sets PID and URL.
# shellcheck source=scripts/bench-server-up.sh
source scripts/bench-server-up.sh
start_server() { bench_server_up "$BIN" "$LOG" "$@"; }

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

# --- The store comparison -------------------------------------------------------------------

# Starts redis-server on a free loopback port, persistence as a production node would have it
# (AOF, fsync every second) in a temporary directory: sets REDIS_PID and REDIS_URL.
start_redis() {
  REDIS_DIR=$(mktemp -d)
  local port
  for _ in $(seq 1 20); do
    port=$((20000 + RANDOM % 40000))
    # Something answers there already: try another port.
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then continue; fi
    "$REDIS_SERVER" --bind 127.0.0.1 --port "$port" --dir "$REDIS_DIR" --save "" \
      --appendonly yes --appendfsync everysec --protected-mode no --daemonize no \
      --logfile "$REDIS_DIR/redis.log" &
    REDIS_PID=$!
    for _ in $(seq 1 50); do
      if [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = PONG ]; then
        REDIS_PORT=$port
        REDIS_URL="redis://127.0.0.1:$port/"
        return 0
      fi
      kill -0 "$REDIS_PID" 2>/dev/null || break
      sleep 0.1
    done
    stop_redis
  done
  echo "[bench-server] redis-server did not start" >&2
  [ -f "$REDIS_DIR/redis.log" ] && tail -5 "$REDIS_DIR/redis.log" >&2
  return 1
}

# One scenario of the comparison against a fresh server with store $1 (memory or redis):
# `store_scenario <store> <name> <bench-load args>...`.
store_scenario() {
  local store=$1 name=$2
  shift 2
  local extra=() load=(--store "$store")
  if [ "$store" = redis ]; then
    # Every scenario starts from an empty Redis (and its fsyncs behind it).
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" flushall >/dev/null ||
      echo "[bench-server] redis FLUSHALL failed (is redis-server $REDIS_PID still up?)" >&2
    extra=(--redis "$REDIS_URL" --node-name bench)
    load+=(--redis-pid "$REDIS_PID")
  fi
  if ! start_server "${extra[@]}"; then
    FAILED+=("$store $name")
    return 0
  fi
  echo "[bench-server] $name ($store store) against $URL (pid $PID)"
  if ! timeout 180 "$BIN/bench-load" "$name" --url "$URL" --pid "$PID" \
    --out "$PARTS/store-$store-$name.json" "${load[@]}" "$@"; then
    echo "[bench-server] $name ($store store) FAILED" >&2
    FAILED+=("$store $name")
  fi
  stop_server
  # What the server said (with Redis: any store error), kept in the log.
  if grep -qiv '^listening on\|^node ' "$LOG"; then
    echo "[bench-server] the $store server's output:" >&2
    grep -iv '^listening on\|^node ' "$LOG" | head -20 >&2
  fi
}

STORE_WALL=
STORE_NOTE=
REDIS_VERSION=
if [ "${BENCH_SKIP_STORE:-0}" = 1 ]; then
  STORE_NOTE="- The Redis store comparison did not run (BENCH_SKIP_STORE=1)."
elif ! command -v "$REDIS_SERVER" >/dev/null || ! command -v redis-cli >/dev/null; then
  STORE_NOTE="- The Redis store comparison did not run (no \`$REDIS_SERVER\` / \`redis-cli\`; scripts/setup.sh installs them)."
elif ! start_redis; then
  STORE_NOTE="- The Redis store comparison did not run (redis-server did not start)."
else
  REDIS_VERSION=$("$REDIS_SERVER" --version | sed -n 's/.* v=\([^ ]*\).*/\1/p')
  echo "[bench-server] store comparison: redis-server ${REDIS_VERSION:-?} at $REDIS_URL (pid $REDIS_PID)"
  STORE_STARTED=$(date +%s%N)
  for store in memory redis; do
    store_scenario "$store" ws-idle --sessions "$STORE_IDLE" --marks 1000,2000,5000 --hold-secs 4
  done
  for store in memory redis; do
    store_scenario "$store" fanout --sessions "$FANOUT" --secs "$FANOUT_SECS" --warmup-secs 1
  done
  for store in memory redis; do
    store_scenario "$store" echo --messages "$ECHO_MESSAGES" --runs "$ECHO_RUNS"
  done
  ELAPSED_MS=$((($(date +%s%N) - STORE_STARTED) / 1000000))
  STORE_WALL=$((ELAPSED_MS / 1000)).$(printf %03d $((ELAPSED_MS % 1000)))
  echo "[bench-server] store comparison took $STORE_WALL s"
  stop_redis
fi

"$BIN/bench-load" report --json "$OUT/server.json" --md "$OUT/server.md" --wall-secs "$WALL" \
  --build "$PROFILE" ${REDIS_VERSION:+--redis-version "$REDIS_VERSION"} \
  ${STORE_WALL:+--store-wall-secs "$STORE_WALL"} "$PARTS"/*.json
for name in "${FAILED[@]}"; do
  echo "- Scenario \`$name\` failed (no figure); see the \`make bench\` log." >>"$OUT/server.md"
done
if [ -n "$STORE_NOTE" ]; then echo "$STORE_NOTE" >>"$OUT/server.md"; fi
echo "[bench-server] wrote $OUT/server.json and $OUT/server.md"
cat "$OUT/server.md"
[ ${#FAILED[@]} -eq 0 ]
