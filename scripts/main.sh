#!/usr/bin/env bash
# README's first command: set up this machine (idempotent), start berthd on
# temporary roots, load a busybox image built locally from Debian's busybox-static (`berth import`
# of a rootfs tarball: nothing is downloaded), `berth run --rm` it printing from inside the
# container, then stop berthd and remove everything it made.
set -euo pipefail
. "$(dirname "$0")/env.sh"
cd "$BERTH_ROOT"
bash scripts/setup.sh

work="$(mktemp -d /tmp/berth-main.XXXXXX)"
root="$work/root"
run="$work/run"
sock="$run/berthd.sock"
berthd_pid=""
berth() { dist/bin/berth --host "$sock" "$@"; }
cleanup() {
  local status=$?
  set +e
  if [ -n "$berthd_pid" ] && kill -0 "$berthd_pid" 2>/dev/null; then
    for id in $(berth ps -a -q --no-trunc 2>/dev/null); do berth rm -f "$id" >/dev/null 2>&1 || true; done
    kill -TERM "$berthd_pid" 2>/dev/null || true
    wait "$berthd_pid" 2>/dev/null || true
  fi
  # Anything still mounted under the roots (an interrupted run) goes before the directories.
  grep -o " $work[^ ]*" /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m"; done
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT

echo "== build a busybox rootfs from Debian's busybox-static"
mkdir -p "$work/rootfs/bin" "$work/rootfs/etc" "$work/rootfs/tmp"
cp /bin/busybox "$work/rootfs/bin/busybox"
for a in sh echo cat ls id hostname sleep uname; do ln -s busybox "$work/rootfs/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$work/rootfs/etc/passwd"
printf 'root:x:0:\n' >"$work/rootfs/etc/group"
tar -C "$work/rootfs" -cf "$work/busybox.tar" .

echo "== start berthd (root $root, run root $run)"
dist/bin/berthd --root "$root" --run-root "$run" --no-network 2>"$work/berthd.log" &
berthd_pid=$!
for _ in $(seq 1 100); do [ -S "$sock" ] && break; sleep 0.1; done
[ -S "$sock" ] || { cat "$work/berthd.log" >&2; exit 1; }

echo "== berth import busybox"
berth import "$work/busybox.tar" busybox:latest
berth images

echo "== berth run --rm busybox"
berth run --rm --name berth-demo busybox sh -c 'echo "hello from inside a berth container: hostname $(hostname), pid $$, $(id)"; echo "kernel $(uname -r), namespaces: $(ls /proc/self/ns | tr "\n" " ")"'

echo "== berth ps -a (empty: --rm removed it)"
berth ps -a
