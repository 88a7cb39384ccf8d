// Restart policies as docker has them: the word a request gives, whether an exit restarts, and the
// back-off before it does. Pure.
import { invalidArgument } from '../errors/errors.ts';
import type { RestartPolicyName } from '../metadata/metadata-store.ts';
import type { Container } from './container-context.ts';

export function parseRestartPolicy(word: string | undefined): { name: RestartPolicyName; max: number } {
  const w = word ?? 'no';
  if (w === '' || w === 'no') return { name: 'no', max: 0 };
  if (w === 'always' || w === 'unless-stopped') return { name: w, max: 0 };
  const m = /^on-failure(?::(\d+))?$/.exec(w);
  if (m) return { name: 'on-failure', max: m[1] === undefined ? 0 : Number(m[1]) };
  throw invalidArgument(
    `restart policy ${JSON.stringify(w)}: expected no, always, unless-stopped or on-failure[:max-retries]`,
  );
}

type PolicyFields = Pick<Container, 'restartPolicy' | 'restartMax' | 'restartCount' | 'manuallyStopped' | 'exitCode'>;

/** Whether the container's recorded exit restarts it (a user's stop or kill never does). */
export function shouldRestart(c: PolicyFields): boolean {
  switch (c.restartPolicy) {
    case 'always':
    case 'unless-stopped':
      return !c.manuallyStopped;
    case 'on-failure':
      return !c.manuallyStopped && (c.exitCode ?? 0) !== 0 && (c.restartMax === 0 || c.restartCount < c.restartMax);
    default:
      return false;
  }
}

/** Docker's back-off: 100 ms doubling per consecutive restart (at most a minute), reset after 10 s of running. */
export function restartDelay(c: Pick<Container, 'startedAt' | 'finishedAt' | 'restartCount'>): number {
  const ranFor = c.startedAt && c.finishedAt ? Date.parse(c.finishedAt) - Date.parse(c.startedAt) : 0;
  const n = ranFor > 10_000 ? 0 : Math.min(c.restartCount, 10);
  return Math.min(100 * 2 ** n, 60_000);
}
