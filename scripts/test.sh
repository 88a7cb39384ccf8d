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
# A test (or hook) that hangs fails after 15 minutes instead of holding the run until CI's limit.
# Not --test-force-exit: it ended src/oci/runtime-validate.test.ts after its first suites, and the
# rest went unreported and unrun (no failure, fewer tests); a file that holds a child it failed to
# stop is the harness's to prevent (startBerthd kills a berthd that misses its deadline).
exec node --test --test-concurrency=2 --test-timeout=900000 --test-reporter=spec "${files[@]}"
