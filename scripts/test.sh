#!/usr/bin/env bash
# Runs every test of the project on a fresh Debian 12 machine: installs what is missing, builds,
# then one ctest run covering CAF unit tests, persistence tests against real redis-server and
# nats-server, relay black-box integration tests, cluster tests, bridge tests, PWA unit tests and
# the PWA end-to-end test in Debian's Chromium.
#   scripts/test.sh            (RelWithDebInfo build in build/)
#   RC_SANITIZE=ON BUILD_DIR=build-asan scripts/test.sh   (ASan + UBSan build of everything)
#   RC_SANITIZE=thread BUILD_DIR=build-tsan scripts/test.sh   (ThreadSanitizer, against CAF built
#     from Debian's source with TSan by scripts/caf-tsan.sh; relays run with IO_THREADS=2
#     ACTOR_THREADS=2; suppressions for third-party code only, tests/tsan.supp)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
RC_SANITIZE=${RC_SANITIZE:-OFF}
JOBS=${JOBS:-$(nproc)}

bash scripts/bootstrap.sh
for dir in tests/integration tests/bridge tests/cluster pwa tests/bridge/codex; do
  if [ -f "$dir/package-lock.json" ]; then
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  fi
done
(cd pwa && npm run build --silent >/dev/null)

build_type=RelWithDebInfo
[ "$RC_SANITIZE" = ON ] && build_type=Debug
extra=()
# TSan needs CAF itself instrumented (Debian's libcaf is not): scripts/caf-tsan.sh builds Debian's
# CAF source with -fsanitize=thread once into a private prefix, found before /usr by find_package.
[ "$RC_SANITIZE" = thread ] && extra=(-DCMAKE_PREFIX_PATH="$(bash scripts/caf-tsan.sh)")
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE="$build_type" -DRC_SANITIZE="$RC_SANITIZE" -DRC_EXCLUDE= "${extra[@]}" >/dev/null
cmake --build "$BUILD_DIR" -j "$JOBS"

export UBSAN_OPTIONS="suppressions=$PWD/tests/ubsan.supp:print_stacktrace=1:halt_on_error=1"
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1"
if [ "$RC_SANITIZE" = thread ]; then
  export TSAN_OPTIONS="suppressions=$PWD/tests/tsan.supp:halt_on_error=1:second_deadlock_stack=1:history_size=4"
  export IO_THREADS=${IO_THREADS:-2} ACTOR_THREADS=${ACTOR_THREADS:-2}
fi
cd "$BUILD_DIR"
ctest --output-on-failure --timeout 900 ${CTEST_ARGS:-}
