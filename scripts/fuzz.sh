#!/usr/bin/env bash
# Builds and runs the libFuzzer targets of tests/fuzz/ (Debian clang + libclang-rt-14-dev).
#   scripts/fuzz.sh                 every target for 60 s each
#   scripts/fuzz.sh wire 600        one target for 10 minutes
#   RC_FUZZ_RUNS=10000000 scripts/fuzz.sh wire 3600   stops at 10 million executions (or the time)
#   scripts/fuzz.sh --ci            every target for RC_FUZZ_SECONDS (default 20) s: the `fuzz` ctest entry
# The seed corpus (tests/fuzz/corpus/TARGET) is read, never written; new inputs go to
# $RC_FUZZ_BUILD/corpus/TARGET, crashes to $RC_FUZZ_BUILD/artifacts/. Exits 77 (skipped) only when
# clang++ or libFuzzer is missing, 1 when a target crashes or breaks a property.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${RC_FUZZ_BUILD:-$ROOT/build/fuzz}
ci=0
if [ "${1:-}" = --ci ]; then ci=1; shift; fi
TARGETS=(wire url http_schema tokens time session_record bus_envelope redis_url config codex_rpc
         http_session ws_session)
want=${1:-all}
secs=${2:-$([ $ci = 1 ] && echo "${RC_FUZZ_SECONDS:-20}" || echo 60)}
[ "$want" = all ] || TARGETS=("$want")
[ -f "tests/fuzz/fuzz_${TARGETS[0]}.cpp" ] || { echo "fuzz: unknown target $want" >&2; exit 2; }

CXX_FUZZ=${RC_FUZZ_CXX:-$(command -v clang++ || true)}
if [ -z "$CXX_FUZZ" ]; then echo "fuzz: SKIPPED, clang++ not found (apt-get install clang)"; exit 77; fi
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf '#include <cstddef>\n#include <cstdint>\nextern "C" int LLVMFuzzerTestOneInput(const uint8_t*, size_t) { return 0; }\n' \
  >"$probe/p.cpp"
if ! "$CXX_FUZZ" -fsanitize=fuzzer,address,undefined "$probe/p.cpp" -o "$probe/p" 2>"$probe/err"; then
  echo "fuzz: SKIPPED, $CXX_FUZZ cannot link -fsanitize=fuzzer (apt-get install libclang-rt-14-dev)"
  exit 77
fi

gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
cmake -S tests/fuzz -B "$BUILD" "${gen[@]}" -DCMAKE_CXX_COMPILER="$CXX_FUZZ" >/dev/null
cmake --build "$BUILD" -j "${JOBS:-$(nproc)}" --target "${TARGETS[@]/#/fuzz_}"

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:symbolize=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
mkdir -p "$BUILD/artifacts"
failed=() total=0
for t in "${TARGETS[@]}"; do
  work="$BUILD/corpus/$t"
  mkdir -p "$work"
  log="$BUILD/$t.log"
  echo "fuzz: $t for ${secs}s"
  set +e
  runs=()
  [ -n "${RC_FUZZ_RUNS:-}" ] && runs=(-runs="$RC_FUZZ_RUNS")
  "$BUILD/fuzz_$t" "${runs[@]}" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix="$BUILD/artifacts/$t-" "$work" "tests/fuzz/corpus/$t" >"$log" 2>&1
  rc=$?
  set -e
  execs=$(awk '/stat::number_of_executed_units/ {print $2}' "$log" | tail -1)
  total=$((total + ${execs:-0}))
  if [ "$rc" != 0 ]; then
    failed+=("$t")
    echo "fuzz: $t FAILED (exit $rc after ${execs:-?} executions); log $log:" >&2
    grep -m1 -A30 -E 'ERROR: |fuzz property violated|runtime error' "$log" >&2 || tail -n 30 "$log" >&2
  else
    echo "fuzz: $t ok, ${execs:-?} executions, corpus $(ls "$work" | wc -l) new + $(ls "tests/fuzz/corpus/$t" | wc -l) seeds"
  fi
done
echo "fuzz: $((${#TARGETS[@]} - ${#failed[@]})) passed, ${#failed[@]} failed ($total executions)"
[ ${#failed[@]} = 0 ]
