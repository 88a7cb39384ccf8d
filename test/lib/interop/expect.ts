// Assertions for interop tests whose failure messages carry what is needed to tell a harness fault
// from a runtime fault: the client's output, the runtime invocations the wrapper recorded, and the
// JSON log files the peers asked the runtime to write (--log), when they still exist.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type CmdResult, describeCmd, type InteropRoot, tail } from './harness.ts';

/** The last runtime calls and the content of the --log files they name. */
export function runtimeEvidence(root: InteropRoot, lines = 25): string {
  const trace = root.trace();
  const calls = trace.split('\n').filter((l) => l.trim() !== '');
  const logs = new Set<string>();
  for (const c of calls) {
    const m = / --log (\S+)/.exec(c);
    if (m?.[1]) logs.add(m[1]);
  }
  const parts = [
    `${root.rt.name} invocations (last ${Math.min(lines, calls.length)} of ${calls.length}):`,
    ...calls.slice(-lines),
  ];
  for (const l of logs) {
    const copy = join(root.logCopies, l.replaceAll('/', '_'));
    const src = existsSync(l) ? l : existsSync(copy) ? copy : undefined;
    if (src === undefined) continue;
    const body = readFileSync(src, 'utf8').trim();
    if (body !== '') parts.push(`--- ${l}:`, tail(body, 15));
  }
  return parts.join('\n');
}

/** Throws unless the command exited 0, with the runtime's trail in the message. */
export function assertCmd(r: CmdResult, what: string, root: InteropRoot): CmdResult {
  if (r.status !== 0) throw new Error(`${what} failed: ${describeCmd(r)}\n${runtimeEvidence(root)}`);
  return r;
}

/** Throws unless `actual` holds `expected`, with the runtime's trail in the message. */
export function assertIncludes(actual: string, expected: string, what: string, root: InteropRoot): void {
  if (!actual.includes(expected))
    throw new Error(
      `${what}: expected ${JSON.stringify(expected)} in ${JSON.stringify(actual)}\n${runtimeEvidence(root)}`,
    );
}

/** Whether the runtime under test was called with `verb` (proof the peer used it, not its default). */
export function assertRuntimeUsed(root: InteropRoot, verb: string): void {
  const calls = root.trace().split('\n');
  if (!calls.some((c) => new RegExp(`(^|\\s)${verb}(\\s|$)`).test(c))) {
    throw new Error(
      `the peer never ran \`${root.rt.name} ${verb}\` (is it using its default runtime?); recorded calls:\n${calls.join('\n')}`,
    );
  }
}
