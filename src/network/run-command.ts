// Runs the host tools networking needs (CNI plugins, ip, iptables, unshare) as child processes,
// with stdin, environment and a timeout, collecting stdout and stderr. It never uses a shell, so no
// argument is ever interpreted, and it never throws for a non-zero exit: callers decide what a
// failure means.
import { spawn } from 'node:child_process';
import { unavailable } from '../errors/errors.ts';

export interface CommandResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  readonly input?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly timeoutMs?: number;
}

export function runCommand(file: string, args: readonly string[], opts: RunOptions = {}): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      env: opts.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: opts.timeoutMs ?? 60_000,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => reject(unavailable(`cannot run ${file}: ${e.message}`, e)));
    child.on('close', (code, signal) =>
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      }),
    );
    // A plugin that exits without reading its config closes the pipe early; that is not our error.
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}

/** One line naming a failed command, its status and what it printed, for error messages. */
export function describeFailure(file: string, args: readonly string[], r: CommandResult): string {
  const status = r.signal ? `killed by ${r.signal}` : `exit status ${r.code}`;
  const text = (r.stderr.trim() || r.stdout.trim()).split('\n').slice(-3).join(' | ');
  return `${[file, ...args].join(' ')}: ${status}${text ? `: ${text}` : ''}`;
}
