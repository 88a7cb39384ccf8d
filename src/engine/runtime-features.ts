// What a runtime class can do, as its own `features` command says (runtime-spec features.md), for
// the CRI's runtime handler features in Status: recursive read-only mounts are advertised only for
// a runtime whose mountOptions list `rro`, as containerd decides it (berth-runtime's own list is
// read in-process; runc 1.1 and crun list rro too). Asked once per binary and remembered: a runtime does not change under a
// running berthd, and a kubelet calls Status every few seconds.
// Must never: guess from a binary's name, or fail Status because a runtime cannot answer.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { supportedMountOptions } from '../runtime/features.ts';
import type { RuntimeClass } from './runtime-classes.ts';

export type RuntimeHandlerFeatures = { recursiveReadOnlyMounts: boolean };

const cache = new Map<string, Promise<RuntimeHandlerFeatures>>();

async function ask(path: string): Promise<RuntimeHandlerFeatures> {
  const { stdout } = await promisify(execFile)(path, ['features'], { timeout: 30_000, encoding: 'utf8' });
  const doc = JSON.parse(stdout) as { mountOptions?: unknown };
  const opts = Array.isArray(doc.mountOptions) ? doc.mountOptions : [];
  return { recursiveReadOnlyMounts: opts.includes('rro') };
}

/**
 * The features of `rt`, from its `features` output. A runtime that cannot answer (crun 1.8 has no
 * `features`; a binary missing here) advertises nothing; the answer is kept either way, so Status
 * never runs a process twice for the same binary.
 */
export function runtimeHandlerFeatures(rt: RuntimeClass): Promise<RuntimeHandlerFeatures> {
  // berthd's own berth-runtime library answers without a process (its `features` output is this list).
  if (rt.inProcess) return Promise.resolve({ recursiveReadOnlyMounts: supportedMountOptions().includes('rro') });
  let p = cache.get(rt.path);
  if (!p) {
    p = ask(rt.path).catch(() => ({ recursiveReadOnlyMounts: false }));
    cache.set(rt.path, p);
  }
  return p;
}
