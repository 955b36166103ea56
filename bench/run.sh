#!/usr/bin/env bash
# Runs the scenario set against the relay, rc-bare-forwarder (Beast baseline) and
# rc-floor-forwarder (kernel floor: raw epoll, no framing library), one after another in one run,
# each server pinned to core 1 and the load generator to core 0, then prints a markdown table with
# every relay figure as a ratio to the floor and to the bare forwarder.
#
#   bench/run.sh [--smoke] [--relay PATH] [--only "relay bare floor"] [--scenarios "roundtrip ..."]
#                [--results DIR] [--threads N] [--duration S] [--count-allocs]
#
# --only: space- or comma-separated subset of relay, bare, floor (default: all three).
# --duration S: measured seconds of the timed scenarios (default 10; keep runs short on shared hosts).
# --count-allocs: run the *-counted builds (relay-node-counted, rc-*-forwarder-counted, next to the
#          plain binaries; bench/alloc_counter.cpp) and report malloc calls per message. Their CPU
#          figures include the counter; take CPU figures from a plain run.
# Scenarios run interleaved (relay, bare, floor for one scenario, then the next one), so a shared
# host's load drifts over all three targets alike.
# --smoke: tiny sizes (< 30 s in total), fails (exit 1) when any scenario reports errors; skips
#          the relay when its binary does not exist yet.
# Results: one JSON line per scenario in DIR (default bench/results/<UTC timestamp>/), plus table.md.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SMOKE=0
RELAY_BIN="$ROOT_DIR/build/bin/relay-node"
ONLY=""
SCENARIOS=""
RESULTS=""
THREADS=1
DURATION=10
COUNT_ALLOCS=0
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
    --duration) DURATION=$2; shift ;;
    --count-allocs) COUNT_ALLOCS=1 ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

LOADGEN=${LOADGEN:-$(pick_binary rc-loadgen || true)}
FORWARDER=${FORWARDER:-$(pick_binary rc-bare-forwarder || true)}
FLOOR=${FLOOR:-$(pick_binary rc-floor-forwarder || true)}
[[ -x ${LOADGEN:-} && -x ${FORWARDER:-} && -x ${FLOOR:-} ]] || {
  echo "rc-loadgen / rc-bare-forwarder / rc-floor-forwarder not built; build with:" >&2
  echo "  cmake -S $ROOT_DIR -B $ROOT_DIR/build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release && cmake --build $ROOT_DIR/build-bench --target rc-loadgen rc-bare-forwarder rc-floor-forwarder" >&2
  exit 2
}
[[ $DURATION =~ ^[0-9]+([.][0-9]+)?$ ]] || { echo "bad --duration $DURATION" >&2; exit 2; }
if [[ $COUNT_ALLOCS == 1 ]]; then
  RELAY_BIN=$RELAY_BIN-counted FORWARDER=$FORWARDER-counted FLOOR=$FLOOR-counted
  for b in "$FORWARDER" "$FLOOR"; do
    [[ -x $b ]] || { echo "$b not built (cmake --build build --target relay-node-counted rc-bare-forwarder-counted rc-floor-forwarder-counted)" >&2; exit 2; }
  done
fi
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
    [throughput-1]="--scenario throughput --sessions 1 --duration $DURATION"
    [throughput-10]="--scenario throughput --sessions 10 --duration $DURATION"
    [throughput-100]="--scenario throughput --sessions 100 --duration $DURATION"
    [throughput-paced-20k]="--scenario throughput --sessions 10 --rate 20000 --duration $DURATION"
    [fanout-100]="--scenario fanout --phones 100 --rate 500 --duration $DURATION"
    [connections-10k]="--scenario connections --target 10000 --hold 2"
    [pairing]="--scenario pairing --concurrency 16 --duration $DURATION"
    [churn]="--scenario churn --sessions 20 --rate 1000 --duration $DURATION"
  )
  ORDER="roundtrip throughput-1 throughput-10 throughput-100 throughput-paced-20k fanout-100 connections-10k pairing churn"
fi
[[ -n $SCENARIOS ]] && ORDER=$SCENARIOS

ONLY=${ONLY//,/ }
want() { [[ -z $ONLY || " $ONLY " == *" $1 "* ]]; }
for t in $ONLY; do [[ $t == relay || $t == bare || $t == floor ]] || { echo "unknown target $t" >&2; exit 2; }; done
TARGETS=()
if want relay; then
  if [[ -x $RELAY_BIN ]]; then TARGETS+=(relay)
  elif [[ -n $ONLY ]]; then echo "relay binary $RELAY_BIN not found" >&2; exit 2
  else echo "note: $RELAY_BIN not found; running the baselines only" >&2; fi
fi
want bare && TARGETS+=(bare)
want floor && TARGETS+=(floor)

trap 'stop_server' EXIT
FAILED=0
for name in $ORDER; do
  [[ -n ${ARGS[$name]:-} ]] || { echo "unknown scenario $name" >&2; exit 2; }
  for target in "${TARGETS[@]}"; do
    case $target in relay) bin=$RELAY_BIN ;; bare) bin=$FORWARDER ;; *) bin=$FLOOR ;; esac
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
    pid=$SERVER_PID
    stop_server
    rm -f "/dev/shm/rc-allocs-$pid"
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
