#!/usr/bin/env bash
# Local 3-node relay cluster on loopback: redis-server + nats-server + three relay-node
# processes configured by config/cluster/node-{a,b,c}.json.
#
#   scripts/cluster.sh start    # start everything (idempotent: running parts are kept)
#   scripts/cluster.sh status   # PIDs, /healthz of each node
#   scripts/cluster.sh stop     # SIGTERM (relay nodes drain), then SIGKILL after 5 s
#
# RELAY_BIN (default build/bin/relay-node), RC_RUN_DIR (default build-run/cluster): PID files and logs.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
RELAY_BIN="${RELAY_BIN:-$ROOT/build/bin/relay-node}"
RUN="${RC_RUN_DIR:-$ROOT/build-run/cluster}" # build*/ is git-ignored
REDIS_PORT=6390
NATS_PORT=4230
NODES=(a b c)
mkdir -p "$RUN"

alive() { [[ -f "$RUN/$1.pid" ]] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }

wait_port() {  # wait_port PORT NAME
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "$2 did not open port $1 (see $RUN/$2.log)" >&2
  return 1
}

launch() {  # launch NAME PORT CMD...
  local name=$1 port=$2
  shift 2
  if alive "$name"; then
    echo "$name already running (pid $(cat "$RUN/$name.pid"))"
    return 0
  fi
  "$@" >"$RUN/$name.log" 2>&1 &
  echo $! >"$RUN/$name.pid"
  wait_port "$port" "$name"
  echo "$name started (pid $!, port $port)"
}

node_port() { sed -n 's/^ *"PORT": *\([0-9]*\).*/\1/p' "$ROOT/config/cluster/node-$1.json"; }

start() {
  [[ -x "$RELAY_BIN" ]] || { echo "relay binary not found: $RELAY_BIN (build it or set RELAY_BIN)" >&2; exit 1; }
  command -v redis-server >/dev/null || { echo "redis-server not installed" >&2; exit 1; }
  command -v nats-server >/dev/null || { echo "nats-server not installed" >&2; exit 1; }
  launch redis "$REDIS_PORT" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 \
    --dir "$RUN" --save "" --appendonly yes
  launch nats "$NATS_PORT" nats-server -a 127.0.0.1 -p "$NATS_PORT"
  for n in "${NODES[@]}"; do
    launch "node-$n" "$(node_port "$n")" "$RELAY_BIN" --config "$ROOT/config/cluster/node-$n.json"
  done
  echo "run dir: $RUN"
}

stop_one() {
  local name=$1
  if ! alive "$name"; then rm -f "$RUN/$name.pid"; return 0; fi
  local pid
  pid=$(cat "$RUN/$name.pid")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  rm -f "$RUN/$name.pid"
  echo "$name stopped"
}

stop() {
  for n in "${NODES[@]}"; do stop_one "node-$n"; done
  stop_one nats
  stop_one redis
}

status() {
  for name in redis nats "${NODES[@]/#/node-}"; do
    if alive "$name"; then
      printf '%-8s running pid %s' "$name" "$(cat "$RUN/$name.pid")"
      if [[ $name == node-* ]]; then
        local port
        port=$(node_port "${name#node-}")
        printf '  healthz: %s' "$(curl -s --max-time 2 "http://127.0.0.1:$port/healthz" || echo unreachable)"
      fi
      echo
    else
      printf '%-8s stopped\n' "$name"
    fi
  done
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
