#!/usr/bin/env bash
# Starts `holdfast-server --test-profile` on a free port, exports HOLDFAST_TEST_SERVER, runs the
# given command, and always stops the server (trap).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q -p holdfast-server
LOG=$(mktemp)
./target/debug/holdfast-server --test-profile --port 0 ${SERVER_ARGS:-} >"$LOG" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; rm -f "$LOG"' EXIT
for _ in $(seq 1 100); do
  if grep -q '^listening on ' "$LOG"; then break; fi
  if ! kill -0 $PID 2>/dev/null; then cat "$LOG"; echo "test server died" >&2; exit 1; fi
  sleep 0.1
done
ADDR=$(sed -n 's/^listening on //p' "$LOG" | head -1)
[ -n "$ADDR" ] || { cat "$LOG"; echo "test server did not start" >&2; exit 1; }
export HOLDFAST_TEST_SERVER="$ADDR"
echo "[with-server] test server at $ADDR"
"$@"
