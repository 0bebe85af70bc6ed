#!/usr/bin/env bash
# Starts a two-node cluster on loopback: redis-server, two `holdfast-server --test-profile`
# nodes (a and b) sharing it, and HAProxy balancing every HTTP request round-robin over them
# (no stickiness, WebSocket and SSE passed through unbuffered). Each of redis and the nodes runs
# under a supervisor loop that starts it again on the same port after it exits, so tests may
# crash a node (kill -9) or restart Redis (`SHUTDOWN NOSAVE`; the AOF keeps the data).
# Exports, for the command:
#   HOLDFAST_TEST_SERVER  http://127.0.0.1:<haproxy>  (the balanced URL)
#   HOLDFAST_NODE_A       http://127.0.0.1:<node a>
#   HOLDFAST_NODE_B       http://127.0.0.1:<node b>
#   HOLDFAST_REDIS_URL    redis://127.0.0.1:<redis>/
#   HOLDFAST_CLUSTER_DIR  the temp dir: {redis,a,b}.pid hold the current PIDs, *.log the logs
# Responses through the balancer carry `X-Node: a` or `X-Node: b`.
# Runs the given command, exits with its status and always stops everything (trap).
#
# Environment:
#   SERVER_ARGS             extra arguments for both nodes
#   CLUSTER_NO_REDIS=1      start the nodes without `--redis URL --node-name NAME`
#                           (Redis itself still runs)
#   CLUSTER_REDIS_DOWN_S    seconds between redis exiting and its restart (default 2)
#   CLUSTER_NODE_RESTART_S  seconds between a node exiting and its restart (default 1)
#   CLUSTER_KEEP_LOGS=DIR   copy the logs and the HAProxy config into DIR before cleanup
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
export PATH="$PATH:/usr/sbin:/sbin"
cargo build -q -p holdfast-server
SERVER="$ROOT/target/debug/holdfast-server"
REDIS_SERVER=$(command -v redis-server)
HAPROXY=$(command -v haproxy)

DIR=$(mktemp -d "${TMPDIR:-/tmp}/holdfast-cluster.XXXXXX")
SUPERVISORS=()
HAPROXY_PID=
cleanup() {
  local status=$?
  set +e
  # Supervisors first: each stops its own child on TERM and starts nothing more.
  [ ${#SUPERVISORS[@]} -gt 0 ] && kill "${SUPERVISORS[@]}" 2>/dev/null
  [ ${#SUPERVISORS[@]} -gt 0 ] && wait "${SUPERVISORS[@]}" 2>/dev/null
  # Belt and braces: whatever a pid file still names (a child started as its supervisor died).
  local name pid
  for name in redis a b; do
    pid=$(cat "$DIR/$name.pid" 2>/dev/null) || continue
    [ -n "$pid" ] && kill "$pid" 2>/dev/null
  done
  if [ -n "$HAPROXY_PID" ]; then
    kill "$HAPROXY_PID" 2>/dev/null
    wait "$HAPROXY_PID" 2>/dev/null
  fi
  for name in redis a b; do
    pid=$(cat "$DIR/$name.pid" 2>/dev/null) || continue
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null
  done
  if [ -n "${CLUSTER_KEEP_LOGS:-}" ]; then
    mkdir -p "$CLUSTER_KEEP_LOGS"
    cp "$DIR"/*.log "$DIR"/haproxy.cfg "$CLUSTER_KEEP_LOGS"/ 2>/dev/null
  fi
  rm -rf "$DIR"
  exit $status
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Free loopback ports, picked up front (the supervisors restart each process on its own port).
read -r REDIS_PORT PORT_A PORT_B HAPROXY_PORT < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(4)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
')

# supervise NAME DELAY_S CMD...: runs CMD (output appended to $DIR/NAME.log, its PID in
# $DIR/NAME.pid) and, whenever it exits, starts it again DELAY_S seconds later. On TERM the
# supervisor stops the current child and exits without starting another.
supervise() {
  local name=$1 delay=$2
  shift 2
  (
    child=
    stop_child() {
      if [ -n "$child" ]; then
        kill "$child" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$child" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$child" 2>/dev/null || true
        wait "$child" 2>/dev/null || true
        rm -f "$DIR/$name.pid"
      fi
      exit 0
    }
    trap stop_child TERM
    while :; do
      "$@" >>"$DIR/$name.log" 2>&1 &
      child=$!
      echo "$child" >"$DIR/$name.pid"
      wait "$child" || true
      echo "[with-cluster] $name exited; restarting in ${delay}s" >>"$DIR/$name.log"
      child=
      sleep "$delay" &
      wait $! || true
    done
  ) 2>>"$DIR/$name.log" &
  SUPERVISORS+=($!)
}

# fail WHAT NAME: prints NAME's log and a message to stderr, then exits 1.
fail() {
  cat "$DIR/$2.log" >&2 2>/dev/null
  echo "[with-cluster] $1" >&2
  exit 1
}

# Waits until NAME's first child is ready (CHECK succeeds); fails if that child dies first.
wait_ready() {
  local name=$1 what=$2 pid
  shift 2
  for _ in $(seq 1 100); do
    pid=$(cat "$DIR/$name.pid" 2>/dev/null) || pid=
    if [ -n "$pid" ]; then
      if "$@"; then return 0; fi
      kill -0 "$pid" 2>/dev/null || fail "$what died" "$name"
    fi
    sleep 0.1
  done
  fail "$what did not start" "$name"
}

supervise redis "${CLUSTER_REDIS_DOWN_S:-2}" "$REDIS_SERVER" \
  --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$DIR" \
  --appendonly yes --appendfsync always --save "" \
  --protected-mode no --daemonize no --logfile ""
redis_up() { [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; }
wait_ready redis "redis-server" redis_up

export HOLDFAST_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/"
for name in a b; do
  if [ "$name" = a ]; then port=$PORT_A; else port=$PORT_B; fi
  cluster_args=()
  if [ "${CLUSTER_NO_REDIS:-}" != 1 ]; then
    cluster_args=(--redis "$HOLDFAST_REDIS_URL" --node-name "$name")
  fi
  # --max-log-messages 4096: the churn tests stream 250 messages/s through the echo app, and a
  # 3.5-4 s outage (Redis down 2 s, or a dead holder's 3 s liveness key) queues ~900-1000 of
  # them at the client; resent in one burst, their echoes stay in the session's log until the
  # client's next poll acknowledges them, past the default 1024, which ends the session with
  # CLOSE 1013 "session buffer full" (the client reports the rest as a gap). The tests prove the
  # cluster's recovery, not that bound; the session tests cover the bound itself.
  # shellcheck disable=SC2086 # SERVER_ARGS is a word list, as in with-server.sh
  supervise "$name" "${CLUSTER_NODE_RESTART_S:-1}" \
    "$SERVER" --test-profile --port "$port" --max-log-messages 4096 "${cluster_args[@]}" \
    ${SERVER_ARGS:-}
done
node_up() { grep -q '^listening on ' "$DIR/$1.log"; }
wait_ready a "node a (holdfast-server)" node_up a
wait_ready b "node b (holdfast-server)" node_up b

# HAProxy: every request balanced on its own, even on one keep-alive client connection
# (round robin, no stickiness; http-server-close also keeps no idle server-side connection that
# a crashed node could leave dead for the next request), a dead node out after one failed check
# (300 ms), a refused connect retried on the other node (redispatch on every retry), WebSocket
# tunnels kept 1 h, responses (SSE) forwarded as they come (no buffering, no Nagle delay).
cat >"$DIR/haproxy.cfg" <<EOF
global
    maxconn 4096

defaults
    mode http
    timeout connect 500ms
    timeout client 60s
    timeout server 60s
    timeout tunnel 1h
    timeout client-fin 1s
    timeout server-fin 1s
    option http-server-close
    option http-no-delay
    option redispatch 1
    retries 3

frontend holdfast
    bind 127.0.0.1:$HAPROXY_PORT
    default_backend nodes

backend nodes
    balance roundrobin
    option httpchk
    http-check send meth GET uri /_fault/stats ver HTTP/1.1 hdr Host 127.0.0.1
    http-check expect status 200
    default-server check inter 300 fastinter 300 downinter 300 fall 1 rise 1
    http-response set-header X-Node %s
    server a 127.0.0.1:$PORT_A
    server b 127.0.0.1:$PORT_B
EOF
"$HAPROXY" -c -q -f "$DIR/haproxy.cfg" >"$DIR/haproxy.log" 2>&1 || fail "bad HAProxy config" haproxy
"$HAPROXY" -db -f "$DIR/haproxy.cfg" >>"$DIR/haproxy.log" 2>&1 &
HAPROXY_PID=$!
echo "$HAPROXY_PID" >"$DIR/haproxy.pid"
BALANCER="http://127.0.0.1:$HAPROXY_PORT"
balancer_up() { curl -sf -o /dev/null "$BALANCER/_fault/stats"; }
wait_ready haproxy "haproxy" balancer_up

export HOLDFAST_TEST_SERVER="$BALANCER"
export HOLDFAST_NODE_A="http://127.0.0.1:$PORT_A" HOLDFAST_NODE_B="http://127.0.0.1:$PORT_B"
export HOLDFAST_CLUSTER_DIR="$DIR"
echo "[with-cluster] balancer at $HOLDFAST_TEST_SERVER, nodes $HOLDFAST_NODE_A and $HOLDFAST_NODE_B, redis $HOLDFAST_REDIS_URL"
set +e
"$@"
status=$?
set -e
exit $status
