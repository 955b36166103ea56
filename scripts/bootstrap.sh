#!/usr/bin/env bash
# Installs every Debian package the project needs (idempotent). Run as root, or with sudo available.
set -euo pipefail
PKGS=(g++ cmake ninja-build ccache pkg-config make
      libcaf-dev libboost1.81-dev nlohmann-json3-dev libssl-dev
      libnats-dev libhiredis-dev libqrencode-dev
      redis-server nats-server chromium procps psmisc curl openssl)
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
command -v node >/dev/null || { echo "bootstrap: node (>=20) is required for the PWA and the integration tests" >&2; exit 1; }
echo "bootstrap: system packages ready"
