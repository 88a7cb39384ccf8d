#!/usr/bin/env bash
# berth-runtime on its own: set up this machine (idempotent), build a busybox bundle from Debian's
# busybox-static, and run it with berth-runtime, printing from inside the container. Offline.
set -euo pipefail
. "$(dirname "$0")/env.sh"
cd "$BERTH_ROOT"
bash scripts/setup.sh
work="$(mktemp -d /tmp/berth-demo.XXXXXX)"
trap 'rm -rf "$work"' EXIT
node scripts/make-bundle.ts "$work/bundle" -- /bin/sh -c 'echo "hello from inside a berth container: hostname $(hostname), pid $$, $(id)"; echo "namespaces: $(ls /proc/self/ns | tr "\n" " ")"' >/dev/null
echo "== berth-runtime run (bundle $work/bundle)"
exec dist/bin/berth-runtime --root "$work/state" run --bundle "$work/bundle" "berth-demo-$$"
