// A real terminal for interactive (`-it`) tests: a private tmux server (its socket under the test's
// temp root) runs one command in a pane; the test types into it and reads the screen back. The
// command's exit status is written to a file by a shell around it. The server is killed by
// kill-server and, failing that, by pid (the harness's cleanup finds it by its socket path).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type CmdResult, cmd, need, waitFor } from './harness.ts';

const TMUX = '/usr/bin/tmux';

export class TmuxSession {
  readonly socket: string;
  private readonly statusFile: string;
  private readonly name: string;

  /** Sessions of one test share the server (one socket in `dir`); each has its own `name`. */
  constructor(dir: string, name = 'berth') {
    need(TMUX, 'tmux');
    this.name = name;
    this.socket = join(dir, 'tmux.sock');
    this.statusFile = join(dir, `tmux-status-${name}-${Date.now()}`);
  }

  private tmux(args: string[]): CmdResult {
    return cmd(TMUX, ['-S', this.socket, ...args], { timeoutMs: 10_000 });
  }

  /**
   * Starts `command` (a shell command line) in a detached 160x40 session. A shell around it writes
   * its exit status to a file: tmux 3.3 sometimes leaves a pane's exited process unreaped (a
   * zombie, the pane never dead), so its own pane status cannot be relied on.
   */
  start(command: string, env: NodeJS.ProcessEnv): void {
    const wrapped = `${command}; echo $? > '${this.statusFile}'`;
    const r = cmd(
      TMUX,
      ['-S', this.socket, '-f', '/dev/null', 'new-session', '-d', '-s', this.name, '-x', '160', '-y', '40', wrapped],
      { timeoutMs: 10_000, env },
    );
    if (r.status !== 0) throw new Error(`tmux new-session failed: ${r.stderr}`);
    this.tmux(['set-option', '-t', this.name, 'remain-on-exit', 'on']);
  }

  /** Types `text` and presses Enter. */
  type(text: string): void {
    const r = this.tmux(['send-keys', '-t', this.name, '-l', text]);
    if (r.status !== 0) throw new Error(`tmux send-keys failed: ${r.stderr}`);
    this.tmux(['send-keys', '-t', this.name, 'Enter']);
  }

  /** Presses keys by tmux's names (`C-p`, `Escape`) or as single characters, in order, with no Enter. */
  keys(...names: string[]): void {
    const r = this.tmux(['send-keys', '-t', this.name, ...names]);
    if (r.status !== 0) throw new Error(`tmux send-keys failed: ${r.stderr}`);
  }

  screen(): string {
    return this.tmux(['capture-pane', '-p', '-J', '-S', '-200', '-t', this.name]).stdout;
  }

  async waitScreen(what: string, pred: (s: string) => boolean, timeoutMs = 30_000): Promise<string> {
    return waitFor(what, () => this.screen(), pred, timeoutMs);
  }

  /** The exit status of the command once it has exited, else undefined. */
  exitStatus(): number | undefined {
    if (!existsSync(this.statusFile)) return undefined;
    const text = readFileSync(this.statusFile, 'utf8');
    return text.endsWith('\n') ? Number(text.trim()) : undefined;
  }

  kill(): void {
    this.tmux(['kill-server']);
  }
}

/**
 * Shell text printing the terminal's size once it has one: the pty's size comes from the client's
 * resize after it attached, which may reach the container just after the first prompt (3 s at most).
 */
export const SIZE_WHEN_SET =
  'i=0; while [ $i -lt 30 ]; do s=$(stty size 2>/dev/null) && [ "$s" != "0 0" ] && break; i=$((i+1)); sleep 0.1; done; echo "$s"';
