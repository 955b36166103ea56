#!/usr/bin/env bash
# E2EE cost figures (docs/E2EE.md "Cost"): bridge (OpenSSL, C++) and PWA (WebCrypto in Node).
# Not a test: prints numbers. Compiles only the E2EE units (no CAF), single-threaded.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
g++ -std=c++17 -O2 -Wall -Wextra -Werror -I. bench/e2ee_bench.cpp desktop-bridge/e2ee.cpp desktop-bridge/e2ee_keys.cpp \
  desktop-bridge/e2ee_hub.cpp -lcrypto -o "$out/e2ee_bench"
echo "== bridge (OpenSSL $(openssl version | cut -d' ' -f2)) =="
"$out/e2ee_bench"
echo "== PWA (WebCrypto, Node $(node --version)) =="
node bench/e2ee_bench.mjs
