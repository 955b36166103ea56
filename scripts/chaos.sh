#!/usr/bin/env bash
# Chaos run (issue 12 item 4), the long version of tests/cluster/chaos.test.mjs: three relay
# nodes + redis-server + nats-server on loopback, CHAOS_SESSIONS paired sessions under traffic,
# and CHAOS_ROUNDS times the whole fault sequence (kill -9 of each node, NATS restart short and
# > 3 s, Redis restart with and without its data, a kill after the data loss, a 10 s SIGSTOP),
# with per-message accounting after each fault (see the test's header and tests/cluster/lib/chaos.mjs).
#
#   scripts/chaos.sh                                 5 rounds, 100 sessions (~ 6 min)
#   CHAOS_ROUNDS=20 CHAOS_SESSIONS=200 scripts/chaos.sh
# The CI version is the same file with 1 round and 30 sessions (ctest relay_cluster, < 3 min).
# RELAY_BIN picks the binary (default build/bin/relay-node). Exit 0 = pass, 1 = a check failed,
# 2 = bad settings or environment.
set -euo pipefail
# A relative RELAY_BIN is the caller's: made absolute before any cd.
if [[ -n ${RELAY_BIN:-} ]]; then RELAY_BIN=$(realpath -m -- "$RELAY_BIN"); fi
cd "$(dirname "$0")/.."
ROOT=$PWD
CHAOS_ROUNDS=${CHAOS_ROUNDS:-5}
CHAOS_SESSIONS=${CHAOS_SESSIONS:-100}
[[ $CHAOS_ROUNDS =~ ^[0-9]+$ ]] && ((CHAOS_ROUNDS >= 1 && CHAOS_ROUNDS <= 1000)) ||
  { echo "chaos: CHAOS_ROUNDS must be 1..1000" >&2; exit 2; }
[[ $CHAOS_SESSIONS =~ ^[0-9]+$ ]] && ((CHAOS_SESSIONS >= 3 && CHAOS_SESSIONS <= 2000)) ||
  { echo "chaos: CHAOS_SESSIONS must be 3..2000" >&2; exit 2; }
export CHAOS_ROUNDS CHAOS_SESSIONS
export RELAY_BIN=${RELAY_BIN:-$ROOT/build/bin/relay-node}
[[ -x $RELAY_BIN ]] || { echo "chaos: relay binary not found at $RELAY_BIN" >&2; exit 2; }
for t in node redis-server nats-server; do
  command -v "$t" >/dev/null || { echo "chaos: $t not found" >&2; exit 2; }
done
[[ -d tests/cluster/node_modules/ws ]] ||
  { echo "chaos: tests/cluster/node_modules/ws missing (cd tests/cluster && npm ci)" >&2; exit 2; }
# A round takes about a minute (the 10 s stall, the 3.5 s outage, reconnects, convergence); the
# bound below is generous per round and still finite.
timeout_ms=$((CHAOS_ROUNDS * 240000 + 120000))
cd tests/cluster
exec node "$ROOT/tests/run-node-tests.mjs" --concurrency 1 --timeout "$timeout_ms" chaos.test.mjs
