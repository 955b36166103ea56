#!/usr/bin/env bash
# Installs every Debian package the project needs (idempotent). Run as root, or with sudo available.
set -euo pipefail
PKGS=(g++ cmake ninja-build ccache pkg-config make
      libcaf-dev libboost1.81-dev nlohmann-json3-dev libssl-dev
      libnats-dev libhiredis-dev libqrencode-dev libsqlite3-dev
      redis-server nats-server chromium procps psmisc curl openssl
      ca-certificates fonts-liberation
      clang libclang-rt-14-dev  # clang + libFuzzer: the `fuzz` ctest entry (tests/fuzz/)
      prometheus)  # promtool for the `deploy_lint` ctest entry (the service is never started)
# Node.js >= 18 (Debian 12 ships 18.20). Debian's nodejs + npm are installed only when no node is
# on PATH, so a newer Node from elsewhere (NodeSource, nvm, ...) is kept.
command -v node >/dev/null || PKGS+=(nodejs)
command -v npm >/dev/null || PKGS+=(npm)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
if [ ${#missing[@]} -gt 0 ]; then
  echo "bootstrap: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v node >/dev/null || { echo "bootstrap: node (>=18) is required for the PWA and the integration tests" >&2; exit 1; }
command -v npm >/dev/null || { echo "bootstrap: npm is required (apt-get install npm)" >&2; exit 1; }
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 18 ] || { echo "bootstrap: node >= 18 is required, found $(node --version)" >&2; exit 1; }
echo "bootstrap: system packages ready"
