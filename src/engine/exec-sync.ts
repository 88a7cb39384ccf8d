// One command run to completion in a running container, its output collected: what the CRI's
// ExecSync and a kubelet's exec probes need. stdout and stderr are kept apart; the output is capped
// (a runaway command cannot fill berthd's memory) and a deadline bounds the wait.
// Must never: hold the output of more than `maxBytes` in memory.
import { deadlineExceeded, failedPrecondition } from '../errors/errors.ts';
import type { ContainerService } from './container-service.ts';

export type ExecSyncResult = { stdout: Buffer; stderr: Buffer; exitCode: number };

/** containerd's cap on ExecSync output (16 MiB for both streams together). */
export const EXEC_SYNC_MAX_BYTES = 16 << 20;

export async function execSync(
  containers: ContainerService,
  id: string,
  cmd: string[],
  o: { timeoutMs?: number; maxBytes?: number } = {},
): Promise<ExecSyncResult> {
  const max = o.maxBytes ?? EXEC_SYNC_MAX_BYTES;
  const { execId } = await containers.exec(id, { cmd });
  const abort = new AbortController();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let total = 0;
  const collect = (async () => {
    for await (const l of containers.execLogs(execId, abort.signal)) {
      const b = Buffer.from(l.log, 'utf8');
      total += b.length;
      if (total > max)
        throw failedPrecondition(
          `exec in container ${id}: output exceeded ${max} bytes (stdout and stderr together); expected at most that`,
        );
      (l.stream === 'stderr' ? err : out).push(b);
    }
  })();
  let timer: NodeJS.Timeout | undefined;
  const deadline = o.timeoutMs
    ? new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              deadlineExceeded(
                `exec in container ${id}: command ${JSON.stringify(cmd)} timed out after ${o.timeoutMs} ms`,
              ),
            ),
          o.timeoutMs,
        );
      })
    : undefined;
  try {
    const finished = containers.execWait(execId).then(async (x) => {
      await collect;
      return x;
    });
    // An output overflow ends the wait at once (the command may run on, writing).
    const overflow = collect.then(() => new Promise<never>(() => {}));
    const exit = await Promise.race([finished, overflow, ...(deadline ? [deadline] : [])]);
    return { stdout: Buffer.concat(out), stderr: Buffer.concat(err), exitCode: exit.exitCode };
  } catch (e) {
    // A command past its deadline (or whose output overflowed) must not run on: a kubelet's probes
    // would pile up in the container.
    await containers.execKill(execId, 'SIGKILL').catch(() => {});
    throw e;
  } finally {
    clearTimeout(timer);
    abort.abort();
    collect.catch(() => {});
  }
}
