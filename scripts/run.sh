#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine: installs what is missing, builds, then runs
#   * relay-node on :8787 (durable state in $RC_STATE_PATH, default
#     ${XDG_STATE_HOME:-~/.local/state}/remote-control/relay.db: a restart keeps the phone paired;
#     RC_STATE_PATH= (empty) keeps state in memory; also serves the built PWA),
#   * the PWA on :4173 (the join link's default base),
#   * a demo desktop-bridge in the foreground that prints the join link and its QR code.
# Ctrl-C (or `q` / `s` in the bridge) stops everything.
#   RC_PUBLIC_HOST=192.168.1.20 scripts/run.sh   # reachable from a phone on the LAN
#   scripts/run.sh --runtime claude -- --claude-cwd ~/src/app   # Claude Code (docs/runtimes/claude.md)
set -euo pipefail
cd "$(dirname "$0")/.."
PUBLIC_HOST=${RC_PUBLIC_HOST:-localhost}
RELAY_PORT=${RC_RELAY_PORT:-8787}
PWA_PORT=${RC_PWA_PORT:-4173}
RUN_DIR=${RC_RUN_DIR:-$PWD/.run}
mkdir -p "$RUN_DIR"
STATE_FILE=${RC_STATE_PATH-${XDG_STATE_HOME:-$HOME/.local/state}/remote-control/relay.db}
[ -n "$STATE_FILE" ] && mkdir -p -m 700 "$(dirname "$STATE_FILE")"

bash scripts/bootstrap.sh
if [[ " $* " == *" --runtime claude "* ]] && [ -z "${RC_CLAUDE_BIN:-}" ] && ! command -v claude >/dev/null; then
  echo "run.sh: --runtime claude needs the Claude Code CLI on PATH (tested: npm install -g" \
    "@anthropic-ai/claude-code@2.1.112), its path after -- or RC_CLAUDE_BIN" >&2
fi
(cd pwa && npm ci --no-audit --no-fund --loglevel=error >/dev/null && npm run build --silent >/dev/null)
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRC_EXCLUDE= >/dev/null
cmake --build build --target relay-node desktop-bridge

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

bind_host=127.0.0.1
[ "$PUBLIC_HOST" != localhost ] && bind_host=0.0.0.0
HOST=$bind_host PORT=$RELAY_PORT PUBLIC_BASE_URL="http://$PUBLIC_HOST:$RELAY_PORT" STATIC_DIR="$PWD/pwa/dist" \
  ALLOWED_ORIGINS="http://$PUBLIC_HOST:$PWA_PORT,http://localhost:$PWA_PORT,http://127.0.0.1:$PWA_PORT,http://$PUBLIC_HOST:$RELAY_PORT" \
  STATE_PATH="$STATE_FILE" build/bin/relay-node 2>"$RUN_DIR/relay.log" &
pids+=($!)
(cd pwa && exec npx --no-install vite preview --port "$PWA_PORT" --strictPort --host "$bind_host" >"$RUN_DIR/pwa.log" 2>&1) &
pids+=($!)
for _ in $(seq 1 50); do
  curl -fs "http://127.0.0.1:$RELAY_PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
if ! kill -0 "${pids[0]}" 2>/dev/null; then
  echo "run.sh: relay-node did not start:" >&2
  cat "$RUN_DIR/relay.log" >&2
  exit 1
fi
echo "relay:  http://$PUBLIC_HOST:$RELAY_PORT  (log: $RUN_DIR/relay.log, state: ${STATE_FILE:-in memory})"
echo "pwa:    http://$PUBLIC_HOST:$PWA_PORT  (log: $RUN_DIR/pwa.log)"
build/bin/desktop-bridge --relay "ws://$PUBLIC_HOST:$RELAY_PORT/ws" --join-url "http://$PUBLIC_HOST:$PWA_PORT/" \
  --runtime demo --state-file "$RUN_DIR/bridge-session.json" "$@"
