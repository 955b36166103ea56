#!/usr/bin/env bash
# Builds Debian's own CAF 0.17.6 source (package actor-framework, the source of libcaf-dev) with
# ThreadSanitizer into a private prefix, for `RC_SANITIZE=thread` builds only. Debian's libcaf is
# not instrumented, so TSan cannot see the happens-before edges of CAF's mailboxes and reference
# counts and reports every message hand-off between actor threads as a race; with CAF itself
# instrumented those edges are visible and what remains is ours.
#
#   scripts/caf-tsan.sh            (prints the prefix; builds it once, then reuses it)
#   RC_CAF_TSAN_PREFIX=/path scripts/caf-tsan.sh
#
# The tarball comes from the Debian archive through apt (a deb-src entry is added if none is
# configured) and is checked against the SHA-256 in Debian's signed .dsc before it is unpacked.
# Only core and test are built (the relay uses no other CAF module); no Debian patches are needed
# for core (the debian.tar.xz only carries packaging).
set -euo pipefail
PREFIX=${RC_CAF_TSAN_PREFIX:-/var/tmp/rc-caf-tsan}
WORK=${RC_CAF_TSAN_WORK:-/var/tmp/rc-caf-tsan-src}
VERSION=0.17.6
if [ -f "$PREFIX/.rc-complete" ]; then
  echo "$PREFIX"
  exit 0
fi
mkdir -p "$WORK"
cd "$WORK"
if ! ls actor-framework_${VERSION}*.dsc >/dev/null 2>&1 || [ ! -f actor-framework_${VERSION}.orig.tar.gz ]; then
  if ! apt-cache showsrc actor-framework >/dev/null 2>&1 || [ -z "$(apt-cache showsrc actor-framework 2>/dev/null)" ]; then
    [ "$(id -u)" = 0 ] || { echo "caf-tsan: no deb-src entry; run as root once to add it" >&2; exit 1; }
    cat >/etc/apt/sources.list.d/rc-deb-src.sources <<'EOF'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    apt-get update -qq >&2
  fi
  # --download-only: the .dsc (signed, carries the checksums) and the upstream tarball. The
  # packaging tarball is not needed; if the mirror lacks it, apt reports it and we go on.
  apt-get source --download-only "actor-framework=${VERSION}-2.1" >&2 || true
fi
dsc=$(ls actor-framework_${VERSION}*.dsc | head -1)
want=$(awk '/^Checksums-Sha256:/{f=1;next} f&&/orig\.tar\.gz$/{print $1; exit}' "$dsc")
got=$(sha256sum actor-framework_${VERSION}.orig.tar.gz | cut -d' ' -f1)
if [ -z "$want" ] || [ "$want" != "$got" ]; then
  echo "caf-tsan: actor-framework_${VERSION}.orig.tar.gz does not match $dsc (want $want, got $got)" >&2
  exit 1
fi
rm -rf "actor-framework-${VERSION}" build
tar xzf "actor-framework_${VERSION}.orig.tar.gz"
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S "actor-framework-${VERSION}" -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_INSTALL_PREFIX="$PREFIX" "${launcher[@]}" \
  -DCMAKE_CXX_FLAGS="-fsanitize=thread -fno-omit-frame-pointer" \
  -DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread -DCMAKE_SHARED_LINKER_FLAGS=-fsanitize=thread \
  -DCAF_NO_IO=yes -DCAF_NO_OPENSSL=yes -DCAF_NO_EXAMPLES=yes -DCAF_NO_UNIT_TESTS=yes \
  -DCAF_NO_TOOLS=yes -DCAF_NO_PYTHON=yes -DCAF_NO_OPENCL=yes -DCAF_NO_SUMMARY=yes >&2
cmake --build build -j "${JOBS:-$(nproc)}" >&2
cmake --install build >&2
touch "$PREFIX/.rc-complete"
echo "$PREFIX"
