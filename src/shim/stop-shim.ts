// Ending a shim: SIGTERM to the pid in shim.pid (only if its start time still matches, so a reused
// pid is never signalled), then SIGKILL if it lingers. The shim on SIGTERM flushes its log and
// leaves; a still-running container is not touched (kill it through the runtime first, or it runs
// on unsupervised). Owns nothing else.
import { readShimIdentity, shimAlive } from './shim-state.ts';

export interface StopShimOptions {
  /** How long to wait after SIGTERM before SIGKILL (ms, default 5000). */
  timeoutMs?: number;
}

/** Resolves once the shim is gone (or was never there). */
export async function stopShim(stateDir: string, opts: StopShimOptions = {}): Promise<void> {
  const id = readShimIdentity(stateDir);
  if (!id || !shimAlive(stateDir)) return;
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(id.pid, sig);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
    }
  };
  signal('SIGTERM');
  const until = Date.now() + (opts.timeoutMs ?? 5000);
  while (shimAlive(stateDir)) {
    if (Date.now() > until) {
      signal('SIGKILL');
      break;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  // After SIGKILL the shim is a zombie until its parent (init, or a subreaper) reaps it; shimAlive
  // already counts a zombie as gone.
}
