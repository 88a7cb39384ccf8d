// A real terminal for interactive (`-it`) tests: a private tmux server (its socket under the test's
// temp root) runs one command in a pane; the test types into it and reads the screen back. The
// pane stays after its command exits so the exit status can be read. The server is killed by
// kill-server and, failing that, by pid (the harness's cleanup finds it by its socket path).
import { join } from 'node:path';
import { type CmdResult, cmd, need, waitFor } from './harness.ts';

const TMUX = '/usr/bin/tmux';

export class TmuxSession {
  readonly socket: string;
  private readonly name = 'berth';

  constructor(dir: string) {
    need(TMUX, 'tmux');
    this.socket = join(dir, 'tmux.sock');
  }

  private tmux(args: string[]): CmdResult {
    return cmd(TMUX, ['-S', this.socket, ...args], { timeoutMs: 10_000 });
  }

  /** Starts `argv` (already shell-quoted as one string) in a detached 160x40 session. */
  start(command: string, env: NodeJS.ProcessEnv): void {
    const r = cmd(TMUX, ['-S', this.socket, '-f', '/dev/null', 'new-session', '-d', '-s', this.name, '-x', '160', '-y', '40', command], { timeoutMs: 10_000, env });
    if (r.status !== 0) throw new Error(`tmux new-session failed: ${r.stderr}`);
    this.tmux(['set-option', '-t', this.name, 'remain-on-exit', 'on']);
  }

  /** Types `text` and presses Enter. */
  type(text: string): void {
    const r = this.tmux(['send-keys', '-t', this.name, '-l', text]);
    if (r.status !== 0) throw new Error(`tmux send-keys failed: ${r.stderr}`);
    this.tmux(['send-keys', '-t', this.name, 'Enter']);
  }

  screen(): string {
    return this.tmux(['capture-pane', '-p', '-J', '-S', '-200', '-t', this.name]).stdout;
  }

  async waitScreen(what: string, pred: (s: string) => boolean, timeoutMs = 30_000): Promise<string> {
    return waitFor(what, () => this.screen(), pred, timeoutMs);
  }

  /** The exit status of the pane's command once it has exited, else undefined. */
  exitStatus(): number | undefined {
    const r = this.tmux(['display-message', '-p', '-t', this.name, '#{pane_dead} #{pane_dead_status}']);
    const [dead, status] = r.stdout.trim().split(' ');
    return dead === '1' ? Number(status) : undefined;
  }

  kill(): void {
    this.tmux(['kill-server']);
  }
}
