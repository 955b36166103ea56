# Shared helpers for bench/run.sh and bench/soak.sh (sourced, not executed).
# Starts a relay-compatible server pinned to a core, waits for its "listening" line.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT_DIR=$(cd "$BENCH_DIR/.." && pwd)

# Env the relay needs so that the bench measures forwarding, not the rate limiters.
# (Each value is far above what a scenario can reach; defaults are in CONFIG_REFERENCE.md.)
RELAY_BENCH_ENV=(
  HOST=127.0.0.1
  ALLOWED_ORIGINS=http://localhost:4173
  MAX_PAIR_REQUESTS_PER_MINUTE=1000000000        # default 60 per IP: pairing/connections do thousands
  MAX_WS_MESSAGES_PER_MINUTE=1000000000          # default 1200 per socket: a desktop streams 100k/s
  MAX_REMOTE_COMMANDS_PER_MINUTE=1000000000      # default 240 per device: roundtrip sends commands
  MAX_REMOTE_SESSION_COMMANDS_PER_MINUTE=1000000000  # default 480 per session
  MAX_SNAPSHOT_REQUESTS_PER_MINUTE=1000000000    # default 60 per device: churn sends one per reconnect
  MAX_ACTIVE_WEBSOCKET_CONNECTIONS=1000000       # default 10000: connections scenario
  MAX_PENDING_JOIN_WAITERS=100000                # default 64: setup concurrency
  MAX_DEVICES_PER_SESSION=1000                   # default 2: fanout puts N phones in one session
  MAX_CONNECTIONS_PER_IP=0                       # default 256: every loadgen socket is 127.0.0.1
  PAIR_APPROVAL_TIMEOUT_MS=45000
)

# pick_binary NAME: first existing build output for NAME
pick_binary() {
  local name=$1 d
  for d in "$ROOT_DIR/build/bin" "$ROOT_DIR/build-bench/bin" "$ROOT_DIR"/build*/bin /tmp/benchroot/build/bin; do
    if [[ -x "$d/$name" ]]; then echo "$d/$name"; return 0; fi
  done
  return 1
}

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# start_server KIND BINARY LOGFILE CORE -> sets SERVER_PID and SERVER_PORT
#   KIND=relay: started with RELAY_BENCH_ENV and PORT/PUBLIC_BASE_URL; KIND=bare/floor: a baseline
#   forwarder (rc-bare-forwarder / rc-floor-forwarder) with HOST/PORT only.
start_server() {
  local kind=$1 bin=$2 log=$3 core=$4 port
  port=$(free_port)
  : >"$log"
  if [[ $kind == relay ]]; then
    ( ulimit -n "$(ulimit -Hn)"; exec env "${RELAY_BENCH_ENV[@]}" PORT="$port" \
        PUBLIC_BASE_URL="http://127.0.0.1:$port" taskset -c "$core" "$bin" ) 2>"$log" >/dev/null &
  else
    ( ulimit -n "$(ulimit -Hn)"; exec env HOST=127.0.0.1 PORT="$port" taskset -c "$core" "$bin" ) \
        2>"$log" >/dev/null &
  fi
  SERVER_PID=$!
  SERVER_PORT=""
  local i
  for ((i = 0; i < 200; i++)); do
    if grep -q '"msg":"listening"' "$log" 2>/dev/null; then
      SERVER_PORT=$(grep '"msg":"listening"' "$log" | head -1 | grep -o '"port":[0-9]*' | cut -d: -f2)
      [[ -n $SERVER_PORT ]] && return 0
    fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      echo "server $bin exited during start-up; log:" >&2; tail -5 "$log" >&2; return 1
    fi
    sleep 0.05
  done
  echo "server $bin did not print a listening line within 10 s" >&2
  stop_server
  return 1
}

stop_server() {
  [[ -n ${SERVER_PID:-} ]] || return 0
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  local i
  for ((i = 0; i < 60; i++)); do
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.05
  done
  kill -KILL "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}
