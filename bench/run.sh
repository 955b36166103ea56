#!/usr/bin/env bash
# Runs the scenario set against the relay and against rc-bare-forwarder, each server pinned to
# core 1 and the load generator to core 0, then prints a markdown table (relay vs bare, ratio).
#
#   bench/run.sh [--smoke] [--relay PATH] [--only relay|bare] [--scenarios "roundtrip throughput-1 ..."]
#                [--results DIR] [--threads N]
#
# --smoke: tiny sizes (< 30 s in total), fails (exit 1) when any scenario reports errors; runs only
#          the bare forwarder when the relay binary does not exist yet.
# Results: one JSON line per scenario in DIR (default bench/results/<UTC timestamp>/), plus table.md.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SMOKE=0
RELAY_BIN="$ROOT_DIR/build/bin/relay-node"
ONLY=""
SCENARIOS=""
RESULTS=""
THREADS=1
SERVER_CORE=1
LOADGEN_CORE=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --smoke) SMOKE=1 ;;
    --relay) RELAY_BIN=$2; shift ;;
    --only) ONLY=$2; shift ;;
    --scenarios) SCENARIOS=$2; shift ;;
    --results) RESULTS=$2; shift ;;
    --threads) THREADS=$2; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

LOADGEN=${LOADGEN:-$(pick_binary rc-loadgen || true)}
FORWARDER=${FORWARDER:-$(pick_binary rc-bare-forwarder || true)}
[[ -x ${LOADGEN:-} && -x ${FORWARDER:-} ]] || {
  echo "rc-loadgen / rc-bare-forwarder not built; build with:" >&2
  echo "  cmake -S $ROOT_DIR -B $ROOT_DIR/build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release && cmake --build $ROOT_DIR/build-bench --target rc-loadgen rc-bare-forwarder" >&2
  exit 2
}
RESULTS=${RESULTS:-$BENCH_DIR/results/$(date -u +%Y%m%dT%H%M%SZ)$([[ $SMOKE == 1 ]] && echo -smoke || true)}
mkdir -p "$RESULTS"

# name -> loadgen arguments
declare -A ARGS
if [[ $SMOKE == 1 ]]; then
  ARGS=(
    [roundtrip]="--scenario roundtrip --sessions 5 --messages 5"
    [throughput-1]="--scenario throughput --sessions 1 --duration 0.5"
    [throughput-paced]="--scenario throughput --sessions 2 --rate 1000 --duration 0.5"
    [fanout]="--scenario fanout --phones 5 --rate 200 --duration 0.5"
    [connections]="--scenario connections --target 200 --hold 0.2"
    [pairing]="--scenario pairing --concurrency 4 --duration 0.5"
    [churn]="--scenario churn --sessions 3 --rate 300 --duration 1 --min-dwell-ms 50 --max-dwell-ms 150"
  )
  ORDER="roundtrip throughput-1 throughput-paced fanout connections pairing churn"
else
  ARGS=(
    [roundtrip]="--scenario roundtrip --sessions 200 --messages 20"
    [throughput-1]="--scenario throughput --sessions 1 --duration 10"
    [throughput-10]="--scenario throughput --sessions 10 --duration 10"
    [throughput-100]="--scenario throughput --sessions 100 --duration 10"
    [throughput-paced-20k]="--scenario throughput --sessions 10 --rate 20000 --duration 10"
    [fanout-100]="--scenario fanout --phones 100 --rate 500 --duration 10"
    [connections-10k]="--scenario connections --target 10000 --hold 2"
    [pairing]="--scenario pairing --concurrency 16 --duration 10"
    [churn]="--scenario churn --sessions 20 --rate 1000 --duration 10"
  )
  ORDER="roundtrip throughput-1 throughput-10 throughput-100 throughput-paced-20k fanout-100 connections-10k pairing churn"
fi
[[ -n $SCENARIOS ]] && ORDER=$SCENARIOS

TARGETS=()
if [[ $ONLY != bare ]]; then
  if [[ -x $RELAY_BIN ]]; then TARGETS+=(relay)
  elif [[ $ONLY == relay ]]; then echo "relay binary $RELAY_BIN not found" >&2; exit 2
  else echo "note: $RELAY_BIN not found; running the bare forwarder only" >&2; fi
fi
[[ $ONLY != relay ]] && TARGETS+=(bare)

trap 'stop_server' EXIT
FAILED=0
for target in "${TARGETS[@]}"; do
  bin=$([[ $target == relay ]] && echo "$RELAY_BIN" || echo "$FORWARDER")
  for name in $ORDER; do
    [[ -n ${ARGS[$name]:-} ]] || { echo "unknown scenario $name" >&2; exit 2; }
    # A fresh server per scenario, so RSS and counters are not polluted by the previous one.
    start_server "$target" "$bin" "$RESULTS/$target-$name.log" "$SERVER_CORE"
    out="$RESULTS/$target-$name.json"
    # shellcheck disable=SC2086
    if ! taskset -c "$LOADGEN_CORE" "$LOADGEN" ${ARGS[$name]} --url "http://127.0.0.1:$SERVER_PORT" \
        --relay-pid "$SERVER_PID" --threads "$THREADS" --label "$target/$name" --out "$out" \
        --timeout 240 >/dev/null; then
      echo "loadgen failed: $target $name" >&2
      FAILED=1
    fi
    stop_server
    if [[ -s $out ]]; then
      errs=$(node -e 'const r=JSON.parse(require("fs").readFileSync(process.argv[1]));console.log(r.errors)' "$out")
      echo "$target $name: errors=$errs" >&2
      if [[ $SMOKE == 1 ]] && ! node "$BENCH_DIR/gate.mjs" "$out" --max-errors 0 >&2; then FAILED=1; fi
    else
      FAILED=1
    fi
  done
done

node "$BENCH_DIR/report.mjs" "$RESULTS" $ORDER | tee "$RESULTS/table.md"
echo "results: $RESULTS" >&2
exit $FAILED
