#!/usr/bin/env bash
# Runs one loadgen scenario N times against ONE server instance and writes a summary JSON
# (per-loop results in a .jsonl beside it). A growing relay RSS across loops hints at a leak.
#
#   bench/soak.sh [--loops N] [--out FILE] [--relay PATH | --bare | --url URL --relay-pid PID] -- LOADGEN ARGS...
#   e.g. bench/soak.sh --loops 20 --out /tmp/soak.json -- --scenario churn --sessions 20 --duration 30
# Without --url, a server is started (relay by default, build/bin/relay-node) pinned to core 1
# with the same env as bench/run.sh. Exit status: 0 when every loop had errors == 0.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

LOOPS=5
OUT=""
KIND=relay
BIN="$ROOT_DIR/build/bin/relay-node"
URL=""
PID=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --loops) LOOPS=$2; shift ;;
    --out) OUT=$2; shift ;;
    --relay) BIN=$2; shift ;;
    --bare) KIND=bare ;;
    --url) URL=$2; shift ;;
    --relay-pid) PID=$2; shift ;;
    --) shift; break ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (loadgen args go after --)" >&2; exit 2 ;;
  esac
  shift
done
[[ $# -gt 0 ]] || { echo "missing loadgen arguments after --" >&2; exit 2; }
(( LOOPS >= 1 && LOOPS <= 10000 )) || { echo "--loops must be 1..10000" >&2; exit 2; }
LOADGEN=${LOADGEN:-$(pick_binary rc-loadgen)}
OUT=${OUT:-$BENCH_DIR/results/soak-$(date -u +%Y%m%dT%H%M%SZ).json}
mkdir -p "$(dirname "$OUT")"
JSONL="${OUT%.json}.jsonl"
: >"$JSONL"

trap 'stop_server' EXIT
if [[ -z $URL ]]; then
  [[ $KIND == bare ]] && BIN=${FORWARDER:-$(pick_binary rc-bare-forwarder)}
  start_server "$KIND" "$BIN" "${OUT%.json}.server.log" 1
  URL="http://127.0.0.1:$SERVER_PORT"
  PID=$SERVER_PID
fi
for ((i = 1; i <= LOOPS; i++)); do
  taskset -c 0 "$LOADGEN" "$@" --url "$URL" --relay-pid "$PID" --label "soak-$i" >>"$JSONL" || true
  echo "soak loop $i/$LOOPS: $(tail -1 "$JSONL" | head -c 160)..." >&2
done

node - "$JSONL" "$OUT" <<'JS'
const fs = require('fs');
const [jsonl, out] = process.argv.slice(2);
const rs = fs.readFileSync(jsonl, 'utf8').split('\n').filter(Boolean).map(l => JSON.parse(l));
const vals = k => rs.map(k).filter(v => typeof v === 'number');
const stat = a => a.length ? { min: Math.min(...a), median: [...a].sort((x, y) => x - y)[a.length >> 1], max: Math.max(...a) } : null;
const rss = vals(r => r.relay_rss_kib_after);
const summary = {
  scenario: rs[0]?.scenario, loops: rs.length, ok_loops: rs.filter(r => r.ok).length,
  errors_total: rs.reduce((s, r) => s + (r.errors ?? 0), 0),
  slow_consumer_total: rs.reduce((s, r) => s + (r.slow_consumer_disconnects ?? 0), 0),
  auth_failures_total: rs.reduce((s, r) => s + (r.auth_failures ?? 0), 0),
  p99_us: stat(vals(r => r.latency_us?.p99)),
  rate: stat(vals(r => r.msgs_per_sec ?? r.roundtrips_per_sec ?? r.flows_per_sec ?? r.sockets_established)),
  relay_cpu_us_per_msg: stat(vals(r => r.relay_cpu_sched_us_per_msg ?? r.relay_cpu_us_per_msg)),
  relay_rss_kib_first: rss[0] ?? null, relay_rss_kib_last: rss[rss.length - 1] ?? null,
  relay_rss_kib_growth: rss.length ? rss[rss.length - 1] - rss[0] : null,
  disconnect_reasons: rs.reduce((m, r) => { for (const [k, v] of Object.entries(r.disconnect_reasons ?? {})) m[k] = (m[k] ?? 0) + v; return m; }, {}),
  results: jsonl, date: new Date().toISOString(),
};
fs.writeFileSync(out, JSON.stringify(summary) + '\n');
console.log(JSON.stringify(summary));
process.exit(summary.ok_loops === summary.loops ? 0 : 1);
JS
