#!/usr/bin/env bash
# berth's test command: set-up (idempotent), static checks, then every test under node:test.
# The node:test summary is the last thing it prints.
set -euo pipefail
. "$(dirname "$0")/env.sh"
cd "$BERTH_ROOT"
bash scripts/setup.sh
echo "== architecture (import direction, cycles)"
node scripts/check-arch.ts
echo "== typecheck"
tsc --noEmit -p .
echo "== format and lint"
biome format --reporter=summary src test bench scripts
biome lint --reporter=summary src test bench scripts
echo "== tests"
mapfile -t files < <(find src test -name '*.test.ts' -not -path '*/fixtures/*' | sort)
# A test (or hook) that hangs fails after 15 minutes instead of holding the run until CI's limit;
# a test file whose tests are done but that still holds a handle (a berthd child it failed to stop,
# say) is ended instead of waited for (--test-force-exit), its failure already reported.
exec node --test --test-concurrency=2 --test-timeout=900000 --test-force-exit --test-reporter=spec "${files[@]}"
