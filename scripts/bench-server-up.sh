# Sourced by scripts/bench.sh and bench/cpu-split.sh: `bench_server_up LOG` starts the reference
# server the browser benchmarks talk to (profile bench-server, default timers, `--faults --bench`)
# on a free loopback port, logging to LOG, and waits for it: sets PID and URL, or exits with the
# log. The caller owns stopping it (its trap kills PID).
bench_server_up() {
  local log=$1
  "${CARGO_TARGET_DIR:-target}/bench-server/holdfast-server" --port 0 --faults --bench >"$log" 2>&1 &
  PID=$!
  URL=
  for _ in $(seq 1 100); do
    URL=$(sed -n 's|^listening on ||p' "$log" | head -1)
    [ -n "$URL" ] && return 0
    if ! kill -0 "$PID" 2>/dev/null; then cat "$log" >&2; echo "[bench] server died" >&2; exit 1; fi
    sleep 0.1
  done
  cat "$log" >&2
  echo "[bench] server did not start" >&2
  exit 1
}
