// Where berth's own files are: found from this module's location, so that the same code works when
// run from src/ (type stripping) and from a bundled binary in dist/bin/. Never depends on the cwd.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

let cached: string | undefined;

/** The berth checkout (the directory holding native/ and package.json); BERTH_ROOT overrides. */
export function berthRoot(): string {
  if (cached) return cached;
  const env = process.env.BERTH_ROOT;
  if (env && existsSync(join(env, 'native'))) return (cached = env);
  let dir = import.meta.dirname;
  for (;;) {
    if (existsSync(join(dir, 'native')) && existsSync(join(dir, 'package.json'))) return (cached = dir);
    const up = dirname(dir);
    if (up === dir) throw new Error(`cannot find the berth root above ${import.meta.dirname} (set BERTH_ROOT)`);
    dir = up;
  }
}

/** The native plan executor. */
export function initBinary(): string {
  return join(berthRoot(), 'native/build/berth-init');
}
