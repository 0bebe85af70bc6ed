#!/usr/bin/env bash
# Starts `holdfast-server --test-profile` on a free port and the loopback fault proxy in front of
# it, exports HOLDFAST_TEST_SERVER, HOLDFAST_TEST_PROXY and HOLDFAST_TEST_PROXY_CONTROL, runs the
# given command, and always stops both (trap).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q -p holdfast-server -p holdfast-fault-proxy
LOG=$(mktemp)
PROXY_LOG=$(mktemp)
./target/debug/holdfast-server --test-profile --port 0 ${SERVER_ARGS:-} >"$LOG" 2>&1 &
PID=$!
PROXY_PID=
cleanup() {
  kill $PID ${PROXY_PID:-} 2>/dev/null || true
  wait $PID ${PROXY_PID:-} 2>/dev/null || true
  rm -f "$LOG" "$PROXY_LOG"
}
trap cleanup EXIT
# Waits until `file` has a line starting with `prefix`; prints the rest of that line.
wait_line() {
  local file=$1 prefix=$2 pid=$3 what=$4
  for _ in $(seq 1 100); do
    if grep -q "^$prefix" "$file"; then sed -n "s|^$prefix||p" "$file" | head -1; return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then cat "$file" >&2; echo "$what died" >&2; return 1; fi
    sleep 0.1
  done
  cat "$file" >&2; echo "$what did not start" >&2; return 1
}
ADDR=$(wait_line "$LOG" 'listening on ' $PID "test server")
export HOLDFAST_TEST_SERVER="$ADDR"
./target/debug/holdfast-fault-proxy --upstream "${ADDR#http://}" >"$PROXY_LOG" 2>&1 &
PROXY_PID=$!
PROXY=$(wait_line "$PROXY_LOG" 'proxy on ' $PROXY_PID "fault proxy")
CONTROL=$(wait_line "$PROXY_LOG" 'control on ' $PROXY_PID "fault proxy")
export HOLDFAST_TEST_PROXY="$PROXY" HOLDFAST_TEST_PROXY_CONTROL="$CONTROL"
echo "[with-server] test server at $ADDR, fault proxy at $PROXY (control $CONTROL)"
"$@"
