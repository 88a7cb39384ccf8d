// Where berth's own files are: found from this module's location, so that the same code works when
// run from src/ (type stripping) and from a bundled binary in dist/bin/. Never depends on the cwd.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { unavailable } from '../errors/errors.ts';

/** The nearest directory at or above `startDir` that holds native/addon or native/Makefile: a berth checkout. */
export function findBerthRoot(startDir: string): string | undefined {
  let dir = startDir;
  for (;;) {
    if (existsSync(join(dir, 'native/addon')) || existsSync(join(dir, 'native/Makefile'))) return dir;
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

let cached: string | undefined;

/** The berth checkout this code belongs to; BERTH_ROOT overrides. */
export function berthRoot(): string {
  if (cached === undefined) {
    const env = process.env.BERTH_ROOT;
    const found = env && existsSync(join(env, 'native')) ? env : findBerthRoot(import.meta.dirname);
    if (!found)
      throw unavailable(
        `cannot find the berth checkout (a directory with native/) above ${import.meta.dirname}: set BERTH_ROOT`,
      );
    cached = found;
  }
  return cached;
}

/** The native plan executor. */
export function initBinary(): string {
  return join(berthRoot(), 'native/build/berth-init');
}
