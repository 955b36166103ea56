#!/usr/bin/env bash
# Churn soak (issue 10): a real relay-node, SOAK_PHONES phones (two per session, one desktop each)
# reconnecting with token rotation and snapshot requests for SOAK_SECONDS while commands, acks,
# snapshots and updates flow. Asserts no errors, no slow-consumer disconnects, no auth failures,
# every command acked, RSS slope within noise, fds back. Driver: tests/integration/tools/soak.mjs
# (its header defines the load and the checks).
#
#   scripts/soak.sh                               600 s, 1000 phones (SOAK_SECONDS, SOAK_PHONES)
#   SOAK_SECONDS=60 SOAK_PHONES=200 scripts/soak.sh   the ctest `soak_short` run
#   SOAK_NICE=10 scripts/soak.sh                  run relay and driver niced
#   SOAK_JSON=/tmp/soak.json scripts/soak.sh      also write the full result (with RSS samples)
# RELAY_BIN picks the binary (default build/bin/relay-node). Exit 0 = pass, 1 = a check failed,
# 2 = bad settings or environment (binary, node, `ws` module, fd limit).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SOAK_SECONDS=${SOAK_SECONDS:-600}
SOAK_PHONES=${SOAK_PHONES:-1000}
[[ $SOAK_SECONDS =~ ^[0-9]+$ ]] && ((SOAK_SECONDS >= 10 && SOAK_SECONDS <= 86400)) ||
  { echo "soak: SOAK_SECONDS must be 10..86400" >&2; exit 2; }
[[ $SOAK_PHONES =~ ^[0-9]+$ ]] && ((SOAK_PHONES >= 2 && SOAK_PHONES <= 20000)) ||
  { echo "soak: SOAK_PHONES must be 2..20000" >&2; exit 2; }
export SOAK_SECONDS SOAK_PHONES
export RELAY_BIN=${RELAY_BIN:-$ROOT/build/bin/relay-node}
[[ -x $RELAY_BIN ]] || { echo "soak: relay binary not found at $RELAY_BIN (build relay-node or set RELAY_BIN)" >&2; exit 2; }
command -v node >/dev/null || { echo "soak: node not found" >&2; exit 2; }
[[ -d tests/integration/node_modules/ws ]] ||
  { echo "soak: tests/integration/node_modules/ws missing (cd tests/integration && npm ci)" >&2; exit 2; }

# File descriptors: the driver holds one socket per phone and desktop (plus HTTP during pairing),
# and so does the relay; both inherit this shell's limit. The relay derives MAX_OPEN_CONNECTIONS
# from RLIMIT_NOFILE (limit - max(64, limit/16)), so the soft limit must cover the sockets with
# that reserve. Raise the soft limit to the hard one if needed; refuse when even that is short.
sessions=$(((SOAK_PHONES + 1) / 2))
need=$(((SOAK_PHONES + sessions) * 17 / 16 + 512))
soft=$(ulimit -Sn)
hard=$(ulimit -Hn)
if [[ $soft != unlimited ]] && ((soft < need)); then
  if [[ $hard == unlimited ]] || ((hard >= need)); then
    ulimit -Sn "$need"
  else
    echo "soak: needs $need file descriptors for $SOAK_PHONES phones + $sessions desktops, hard limit is $hard (ulimit -Hn)" >&2
    exit 2
  fi
fi
echo "soak: ${SOAK_SECONDS}s, $SOAK_PHONES phones, $sessions sessions, fd limit $(ulimit -Sn) (need $need), relay $RELAY_BIN" >&2

nice_cmd=()
[[ -n ${SOAK_NICE:-} ]] && nice_cmd=(nice -n "$SOAK_NICE")
cd tests/integration
exec "${nice_cmd[@]}" node tools/soak.mjs
