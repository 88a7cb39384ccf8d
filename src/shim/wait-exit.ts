// Waiting for a shim's exit record: fs.watch on the state dir for exit.json, with polling as the
// fallback (watches can miss events, and the dir may be on a filesystem without inotify). Owns
// nothing else; must never decide what an exit means.
import { type FSWatcher, watch } from 'node:fs';
import { unavailable } from '../errors/errors.ts';
import { type ExitStatus, readExit, shimAlive } from './shim-state.ts';

const POLL_MS = 250;

/**
 * Resolves with exit.json once the shim writes it. Rejects (Unavailable) when the shim is gone
 * without writing one (killed, say), or with the signal's reason when aborted.
 */
export function waitExit(stateDir: string, signal?: AbortSignal): Promise<ExitStatus> {
  return new Promise<ExitStatus>((resolve, reject) => {
    let watcher: FSWatcher | undefined;
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    const finish = (err: unknown, v?: ExitStatus) => {
      if (settled) return;
      settled = true;
      watcher?.close();
      if (timer) clearInterval(timer);
      signal?.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve(v!);
    };
    const onAbort = () => finish(signal!.reason ?? new DOMException('waitExit aborted', 'AbortError'));
    const check = (poll: boolean) => {
      try {
        const st = readExit(stateDir);
        if (st) return finish(undefined, st);
        // Checked in this order: a shim that exits right after writing exit.json is not a loss.
        if (poll && !shimAlive(stateDir) && !readExit(stateDir)) {
          finish(
            unavailable(`shim of ${stateDir} is gone without writing exit.json (killed?): the exit status is unknown`),
          );
        }
      } catch (e) {
        finish(e);
      }
    };
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      watcher = watch(stateDir, (_ev, name) => {
        if (name === null || name === 'exit.json') check(false);
      });
      watcher.on('error', () => {
        watcher?.close();
        watcher = undefined;
      });
    } catch {
      watcher = undefined; // polling alone
    }
    timer = setInterval(() => check(true), POLL_MS);
    check(true);
  });
}
