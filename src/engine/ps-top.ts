// top with ps options (docker's `top CONTAINER aux`, `-o pid,comm`): the host's ps (procps) run with
// the user's arguments as argv (never through a shell), its table cut to the container's processes
// by the PID column, as dockerd does.
// Must never: run a shell, or show a process that is not one of the container's.
import { execFile } from 'node:child_process';
import { invalidArgument } from '../errors/errors.ts';
import type { TopResult } from './types.ts';

/**
 * dockerd's refusal of an argument that would name another column PID (`-o user=PID`): the rows
 * are chosen by that column, so it must be the real one.
 */
export function checkPsArgs(args: string[]): void {
  for (const m of ` ${args.join(' ')}`.matchAll(/\s+(\S*)=\s*(PID\S*)/g))
    if (m[1] !== 'pid') throw invalidArgument(`specifying "${m[1]}=${m[2]}" is not allowed`);
}

/** ASCII whitespace only, as dockerd splits (a non-ASCII space may sit inside a command). */
function fields(line: string): string[] {
  return line.split(/[ \t\n\v\f\r]+/).filter(Boolean);
}

/**
 * ps's table kept to the rows whose PID is one of `pids`; a thread row (PID `-`, with `-L` or `m`)
 * follows its process. The last column takes the rest of the line (a command with spaces).
 */
export function parsePsOutput(output: string, pids: readonly number[]): TopResult {
  const lines = output.split('\n');
  const titles = fields(lines[0] ?? '');
  const at = titles.indexOf('PID');
  if (at < 0) throw invalidArgument("Couldn't find PID field in ps output");
  const want = new Set(pids);
  const processes: string[][] = [];
  let keepThreads = false;
  for (const line of lines.slice(1)) {
    if (!line) continue;
    const f = fields(line);
    if (f.length === 0) continue;
    const pidField = f[at] ?? '';
    if (pidField === '-') {
      if (keepThreads) processes.push(row(f, titles.length));
      continue;
    }
    if (!/^\d+$/.test(pidField)) throw invalidArgument(`Unexpected pid '${pidField}' in ps output`);
    keepThreads = want.has(Number(pidField));
    if (keepThreads) processes.push(row(f, titles.length));
  }
  return { titles, processes };
}

function row(f: string[], columns: number): string[] {
  return columns > 0 && f.length > columns ? [...f.slice(0, columns - 1), f.slice(columns - 1).join(' ')] : f;
}

function ps(args: string[]): Promise<{ ok: true; stdout: string } | { ok: false; stderr: string; error: Error }> {
  return new Promise((resolve) => {
    execFile('ps', args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve(err ? { ok: false, stderr, error: err } : { ok: true, stdout }),
    );
  });
}

/** Runs the host's ps with `args` for these processes (`-q PIDS` first; again without it for options that refuse -q). */
export async function psTop(args: string[], pids: readonly number[]): Promise<TopResult> {
  checkPsArgs(args);
  let r = pids.length ? await ps([...args, `-q${pids.join(',')}`]) : await ps(args);
  if (!r.ok && pids.length) r = await ps(args);
  if (!r.ok) {
    const why = r.stderr.split('\n', 1)[0] || r.error.message;
    throw invalidArgument(`ps ${args.join(' ')}: ${why}`);
  }
  return parsePsOutput(r.stdout, pids);
}
