#!/usr/bin/env bash
# Proves the README's two commands on a fresh Debian 12 (not part of CI: it takes 30+ minutes).
#   1. builds a minimal Debian 12 root file system (`debootstrap --variant=minbase bookworm`),
#   2. puts a clean clone of the current commit (HEAD, not the working tree) in /opt/remote-control,
#   3. carries over the host's CA certificates, apt settings (sources, apt.conf.d, keyrings) and npm
#      settings so the chroot reaches the same package registries,
#   4. runs `bash scripts/test.sh` as root in `chroot` under `timeout`,
#   5. starts `scripts/run.sh` there in the background and checks that the relay answers /healthz,
#      that the PWA is served (by the relay and by the PWA server) and that the bridge prints a join
#      link; then stops it by its process group and cleans up.
# Node comes from Debian inside the chroot (the host's Node is never visible there); the script
# fails if the chroot's node is not Debian's nodejs 18.
# Run as root on the host:   bash scripts/fresh-debian.sh
#   RC_FRESH_DIR=/var/tmp/rc-fresh-debian  work folder (rootfs + logs; the rootfs is removed on success)
#   RC_FRESH_BASE=DIR   copy this minbase rootfs instead of running debootstrap (a cache); with
#                       RC_FRESH_SAVE_BASE=1 a freshly debootstrapped rootfs is saved there
#   RC_FRESH_MIRROR=URL debootstrap mirror (default: the host's Debian mirror or deb.debian.org)
#   RC_FRESH_TEST_TIMEOUT=5400 RC_FRESH_RUN_TIMEOUT=1200   seconds for the two commands
#   RC_FRESH_RELAY_PORT=18787 RC_FRESH_PWA_PORT=14173     ports for the run check (the chroot shares
#                       the host's network, so they must be free there)
#   RC_FRESH_KEEP=1     keep the rootfs after a successful run
#   RC_FRESH_REUSE=1    reuse the rootfs a previous run kept (its test command passed there): check
#                       out HEAD in its clone and run only the run command (step 6), which rebuilds
#                       what changed; the test step is skipped and reported as such
set -euo pipefail
REPO=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)
WORK=${RC_FRESH_DIR:-/var/tmp/rc-fresh-debian}
BASE=${RC_FRESH_BASE:-}
TEST_TIMEOUT=${RC_FRESH_TEST_TIMEOUT:-5400}
RUN_TIMEOUT=${RC_FRESH_RUN_TIMEOUT:-1200}
RELAY_PORT=${RC_FRESH_RELAY_PORT:-18787}
PWA_PORT=${RC_FRESH_PWA_PORT:-14173}
R="$WORK/root"
APP=/opt/remote-control

log() { echo "fresh-debian: $*" >&2; }
die() { log "FAIL: $*"; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (debootstrap, mount and chroot need it)"
for tool in chroot mount umount mountpoint timeout setsid curl; do
  command -v "$tool" >/dev/null || die "missing host tool: $tool"
done
if ! command -v debootstrap >/dev/null && { [ -z "$BASE" ] || [ ! -d "$BASE" ]; }; then
  log "installing debootstrap on the host"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi
SHA=$(git -C "$REPO" rev-parse HEAD)
[ -z "$(git -C "$REPO" status --porcelain --untracked-files=no)" ] ||
  log "note: the working tree has uncommitted changes; they are NOT tested (clone of $SHA)"

# Everything mounted below $R, deepest first.
mounts_below() { awk -v r="$R/" '{ m = $2; gsub(/\\040/, " ", m); if (index(m "/", r) == 1) print m }' \
  /proc/self/mounts | sort -r; }
# Processes whose root is the chroot (only ever started by this script).
chroot_pids() {
  local p
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/root" 2>/dev/null)" = "$R" ] && echo "${p#/proc/}"
  done
  return 0
}
kill_chroot_procs() {
  local pids
  pids=$(chroot_pids)
  [ -n "$pids" ] || return 0
  log "stopping leftover chroot processes: $(echo $pids)"
  kill -TERM $pids 2>/dev/null || true
  for _ in $(seq 1 50); do [ -z "$(chroot_pids)" ] && return 0; sleep 0.2; done
  pids=$(chroot_pids)
  [ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
  sleep 0.5
}
unmount_all() {
  local m
  for m in $(mounts_below); do umount "$m" 2>/dev/null || umount -l "$m" || true; done
  [ -z "$(mounts_below)" ]
}
remove_root() {
  [ -d "$R" ] || return 0
  unmount_all || die "mounts remain below $R; not removing it"
  rm -rf --one-file-system "$R"
}
run_pid=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [ -n "$run_pid" ] && kill -TERM -- "-$run_pid" 2>/dev/null || true
  kill_chroot_procs
  unmount_all || log "WARNING: could not unmount everything below $R"
  if [ "$rc" = 0 ] && [ -z "${RC_FRESH_KEEP:-}" ]; then remove_root; fi
  [ "$rc" = 0 ] || log "failed (exit $rc); logs in $WORK, rootfs kept in $R"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$WORK"
REUSE=${RC_FRESH_REUSE:-}
if [ -n "$REUSE" ]; then
  [ -d "$R$APP/.git" ] || die "RC_FRESH_REUSE=1 needs a kept rootfs with a clone in $R$APP"
  unmount_all || die "mounts remain below $R"
else
  remove_root
fi

if [ -z "$REUSE" ]; then
# 1. root file system ------------------------------------------------------------------------------
t0=$(date +%s)
if [ -n "$BASE" ] && [ -d "$BASE/usr" ]; then
  log "copying cached minbase rootfs from $BASE"
  cp -a "$BASE" "$R"
else
  MIRROR=${RC_FRESH_MIRROR:-$(grep -rhoE '^(URIs:|deb) +https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list \
    /etc/apt/sources.list.d 2>/dev/null | head -1 | grep -oE 'https?://[^ ]+' || true)}
  MIRROR=${MIRROR:-http://deb.debian.org/debian}
  log "debootstrap --variant=minbase bookworm from $MIRROR"
  debootstrap --variant=minbase bookworm "$R.tmp" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 ||
    die "debootstrap failed (see $WORK/debootstrap.log)"
  mv "$R.tmp" "$R"
  if [ -n "$BASE" ] && [ -n "${RC_FRESH_SAVE_BASE:-}" ]; then
    rm -rf --one-file-system "$BASE"
    cp -a "$R" "$BASE"
  fi
fi
log "rootfs ready in $(($(date +%s) - t0)) s: Debian $(cat "$R/etc/debian_version")"

# 2. host settings: DNS, CA certificates, apt, npm -------------------------------------------------
cp -L /etc/resolv.conf "$R/etc/resolv.conf"
cp -L /etc/hosts "$R/etc/hosts"
mkdir -p "$R/etc/ssl/certs" "$R/usr/local/share/ca-certificates"
cp -L /etc/ssl/certs/ca-certificates.crt "$R/etc/ssl/certs/ca-certificates.crt"
# Local CAs survive the chroot's own update-ca-certificates (run when bootstrap installs ca-certificates).
[ -d /usr/local/share/ca-certificates ] && cp -a /usr/local/share/ca-certificates/. "$R/usr/local/share/ca-certificates/"
not_nodesource() { ! grep -qiE 'nodesource|nsolid' "$1"; }  # Node must come from Debian in the chroot
copy_apt_dir() {  # copy_apt_dir SUBDIR [GLOB...]: the host's files that apt reads there
  local sub=$1 f
  shift
  mkdir -p "$R/etc/apt/$sub"
  for f in /etc/apt/"$sub"/*; do
    [ -f "$f" ] || continue
    if [ $# -gt 0 ]; then
      case "$f" in *.list | *.sources) ;; *) continue ;; esac
    fi
    not_nodesource "$f" && cp -L "$f" "$R/etc/apt/$sub/"
  done
  return 0
}
if [ -s /etc/apt/sources.list ] || ls /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources >/dev/null 2>&1; then
  rm -f "$R/etc/apt/sources.list"
  [ -f /etc/apt/sources.list ] && not_nodesource /etc/apt/sources.list && cp -L /etc/apt/sources.list "$R/etc/apt/"
  copy_apt_dir sources.list.d sources
fi
for sub in apt.conf.d preferences.d trusted.gpg.d keyrings auth.conf.d; do copy_apt_dir "$sub"; done
[ -f /etc/apt/trusted.gpg ] && cp -L /etc/apt/trusted.gpg "$R/etc/apt/"
mkdir -p "$R/root" "$R/usr/etc"
userrc=$(npm config get userconfig 2>/dev/null || echo "$HOME/.npmrc")
globalrc=$(npm config get globalconfig 2>/dev/null || echo /etc/npmrc)
[ -f "$userrc" ] && cp -L "$userrc" "$R/root/.npmrc"
if [ -f "$globalrc" ]; then  # Debian's npm reads /etc/npmrc; keep /usr/etc/npmrc too
  cp -L "$globalrc" "$R/etc/npmrc"
  cp -L "$globalrc" "$R/usr/etc/npmrc"
fi
# Proxy and npm settings given through the environment, if the host uses any.
pass_env=()
while IFS='=' read -r name _; do
  case "$name" in
    http_proxy | https_proxy | no_proxy | HTTP_PROXY | HTTPS_PROXY | NO_PROXY | npm_config_* | NPM_CONFIG_*)
      pass_env+=("$name=${!name}") ;;
  esac
done < <(env)

# 3. clean clone of HEAD ---------------------------------------------------------------------------
git clone -q --no-hardlinks --no-checkout "$REPO" "$R$APP"
git -C "$R$APP" -c advice.detachedHead=false checkout -q --detach "$SHA"
log "cloned $SHA into $APP"

else
  git -C "$R$APP" fetch -q "$REPO" "$SHA"
  git -C "$R$APP" -c advice.detachedHead=false checkout -q --detach "$SHA"
  log "reusing $R (test step skipped); checked out $SHA"
fi

# 4. mounts (undone by the EXIT trap, also on failure) ---------------------------------------------
mkdir -p "$R/proc" "$R/dev" "$R/dev/pts"
mount -t proc proc "$R/proc"
mount --bind /dev "$R/dev"
mount --bind /dev/pts "$R/dev/pts"
mkdir -p "$R/dev/shm"
mount -t tmpfs -o mode=1777,size=2g shm "$R/dev/shm"

# A login-like environment: nothing from the host's PATH (so no host Node), UTF-8 C locale.
IN_CHROOT=(env -i HOME=/root USER=root LOGNAME=root SHELL=/bin/bash TERM=dumb LANG=C.UTF-8
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "${pass_env[@]}"
  "$(command -v chroot)" "$R" /bin/bash -c)

# 5. the test command ------------------------------------------------------------------------------
if [ -z "$REUSE" ]; then
log "running 'bash scripts/test.sh' in the chroot (timeout ${TEST_TIMEOUT}s; log $WORK/test.log)"
t0=$(date +%s)
set +e
timeout --kill-after=30 "$TEST_TIMEOUT" "${IN_CHROOT[@]}" "cd $APP && bash scripts/test.sh" </dev/null >"$WORK/test.log" 2>&1
test_rc=$?
set -e
test_s=$(($(date +%s) - t0))
tail -n 25 "$WORK/test.log" >&2
[ "$test_rc" = 0 ] || die "scripts/test.sh exited $test_rc after ${test_s}s (see $WORK/test.log)"
log "scripts/test.sh passed in ${test_s}s"
  test_s="passed in ${test_s}s"
else
  test_s="skipped (RC_FRESH_REUSE)"
fi

node_v=$(chroot "$R" /usr/bin/node --version)
node_pkg=$(chroot "$R" dpkg-query -W -f='${Version}' nodejs)
node_owner=$(chroot "$R" dpkg-query -S /usr/bin/node 2>/dev/null | cut -d: -f1)
case "$node_v" in v18.*) ;; *) die "chroot node is $node_v, expected Debian's Node 18" ;; esac
[ "$node_owner" = nodejs ] || die "/usr/bin/node in the chroot is not from Debian's nodejs package"
[ -z "$(chroot "$R" /bin/bash -c 'for p in $(type -ap node); do readlink -f "$p"; done | sort -u' | grep -v '^/usr/bin/node$')" ] || die "another node is on PATH"

# 6. the run command -------------------------------------------------------------------------------
for port in "$RELAY_PORT" "$PWA_PORT"; do
  ! curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$port/" || die "port $port is in use on the host"
done
log "starting scripts/run.sh in the chroot (relay :$RELAY_PORT, PWA :$PWA_PORT; log $WORK/run.log)"
t0=$(date +%s)
setsid "${IN_CHROOT[@]}" "cd $APP && RC_RELAY_PORT=$RELAY_PORT RC_PWA_PORT=$PWA_PORT exec bash scripts/run.sh" \
  </dev/null >"$WORK/run.log" 2>&1 &
run_pid=$!
ok_health="" ok_pwa="" ok_static="" join=""
deadline=$((t0 + RUN_TIMEOUT))
while [ "$(date +%s)" -lt "$deadline" ]; do
  kill -0 "$run_pid" 2>/dev/null || { tail -n 30 "$WORK/run.log" >&2; die "scripts/run.sh exited early"; }
  [ -n "$ok_health" ] || curl -fsS --max-time 2 "http://127.0.0.1:$RELAY_PORT/healthz" 2>/dev/null |
    grep -qE '"ok": ?true' && ok_health=$(($(date +%s) - t0))
  if [ -z "$ok_pwa" ]; then
    page=$(curl -fsS --max-time 2 "http://127.0.0.1:$PWA_PORT/" 2>/dev/null || true)
    asset=$(grep -oE 'src="[^"]*assets/[^"]+\.js"' <<<"$page" | head -1 | sed -E 's/^src="\.?//; s/"$//' || true)
    [ -n "$asset" ] && curl -fsS --max-time 2 -o /dev/null "http://127.0.0.1:$PWA_PORT/${asset#/}" &&
      ok_pwa=$(($(date +%s) - t0))
  fi
  [ -n "$ok_static" ] || curl -fsS --max-time 2 "http://127.0.0.1:$RELAY_PORT/" 2>/dev/null |
    grep -q '<div id="app">' && ok_static=$(($(date +%s) - t0))
  [ -n "$join" ] || join=$(grep -A1 '^Join link (copy):' "$WORK/run.log" | grep -oE "^http://localhost:$PWA_PORT/[^ ]+" | head -1 || true)
  [ -n "$ok_health" ] && [ -n "$ok_pwa" ] && [ -n "$ok_static" ] && [ -n "$join" ] && break
  sleep 1
done
run_s=$(($(date +%s) - t0))
if [ -z "$ok_health" ] || [ -z "$ok_pwa" ] || [ -z "$ok_static" ] || [ -z "$join" ]; then
  tail -n 30 "$WORK/run.log" >&2
  die "run.sh not ready after ${run_s}s: healthz=${ok_health:-no} pwa=${ok_pwa:-no} relay-static=${ok_static:-no} join=${join:+yes}"
fi
[[ "$join" == *"#"* || "$join" == *"?"* ]] || die "join link carries no token: ${join%%[#?]*}"
log "run.sh ready in ${run_s}s (healthz at ${ok_health}s, PWA at ${ok_pwa}s, join link printed)"
kill -TERM -- "-$run_pid" 2>/dev/null || true
for _ in $(seq 1 100); do kill -0 "$run_pid" 2>/dev/null || break; sleep 0.2; done
kill -0 "$run_pid" 2>/dev/null && die "scripts/run.sh did not stop on SIGTERM"
wait "$run_pid" 2>/dev/null || true
run_pid=""
[ -z "$(chroot_pids)" ] || log "note: processes outlived run.sh: $(chroot_pids | tr '\n' ' ')"

debian_v=$(cat "$R/etc/debian_version")
echo "fresh-debian: PASS  commit $SHA  Debian $debian_v  Node $node_v (nodejs $node_pkg)" \
  " scripts/test.sh ${test_s}  scripts/run.sh ready in ${run_s}s" | tee "$WORK/result.txt"
