# Sourced by scripts/bench.sh, scripts/bench-server.sh and bench/cpu-split.sh.
# `bench_server_up DIR LOG [ARGS...]` starts DIR/holdfast-server --port 0 --bench ARGS... (its
# default timers) on a free loopback port, logging to LOG (emptied first), and waits for it:
# sets PID and URL, or prints the log and returns 1. The caller owns stopping it (kill PID).
bench_server_up() {
  local dir=$1 log=$2
  shift 2
  : >"$log"
  "$dir/holdfast-server" --port 0 --bench "$@" >"$log" 2>&1 &
  PID=$!
  URL=
  for _ in $(seq 1 100); do
    URL=$(sed -n 's|^listening on ||p' "$log" | head -1)
    [ -n "$URL" ] && return 0
    if ! kill -0 "$PID" 2>/dev/null; then cat "$log" >&2; echo "[bench] server died" >&2; return 1; fi
    sleep 0.1
  done
  cat "$log" >&2
  echo "[bench] server did not start" >&2
  return 1
}
