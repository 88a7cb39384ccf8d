// Hooks that run in the runtime's namespaces (prestart, createRuntime, poststart, poststop):
// each gets the container's state JSON on stdin, runs with its own args and env, and is killed at
// its timeout. The hooks that run inside the container (createContainer, startContainer) are
// executed by berth-init from the plan.
import type { spawn as Spawn } from 'node:child_process';
import { BerthError, ErrorCode } from '../errors/errors.ts';
import type { Hook } from '../oci/runtime-spec.ts';

// node:child_process is loaded when a hook runs, not by every runtime command (~3 ms of start-up).
const childProcess = () => process.getBuiltinModule('node:child_process') as { spawn: typeof Spawn };

export type HostHookName = 'prestart' | 'createRuntime' | 'poststart' | 'poststop';

/** Runs one hook; rejects with a message naming the hook, its path and what went wrong. */
export function runHook(name: HostHookName, index: number, hook: Hook, stateJson: string): Promise<void> {
  const what = `${name} hook #${index} (${hook.path})`;
  return new Promise((resolve, reject) => {
    const args = hook.args && hook.args.length > 0 ? hook.args : [hook.path];
    const child = childProcess().spawn(hook.path, args.slice(1), {
      argv0: args[0],
      env: hookEnv(hook),
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      if (stderr.length < 4096) stderr += d.toString();
    });
    child.stdin?.on('error', () => {});
    child.stdin?.end(stateJson);
    let timedOut = false;
    const timer =
      hook.timeout && hook.timeout > 0
        ? setTimeout(() => {
            timedOut = true;
            child.kill('SIGKILL');
          }, hook.timeout * 1000)
        : undefined;
    child.on('error', (e) => {
      if (timer) clearTimeout(timer);
      reject(new BerthError(ErrorCode.FailedPrecondition, `${what}: ${e.message}`));
    });
    child.on('exit', (code, signal) => {
      if (timer) clearTimeout(timer);
      if (timedOut) reject(new BerthError(ErrorCode.FailedPrecondition, `${what}: timed out after ${hook.timeout}s`));
      else if (code === 0) resolve();
      else {
        const how = signal ? `killed by ${signal}` : `exit status ${code}`;
        reject(new BerthError(ErrorCode.FailedPrecondition, `${what}: ${how}${stderr ? `: ${stderr.trim()}` : ''}`));
      }
    });
  });
}

/** Runs hooks in order; the first failure stops the rest (prestart, createRuntime). */
export async function runHooks(
  name: HostHookName,
  hooks: readonly Hook[] | undefined,
  stateJson: string,
): Promise<void> {
  for (const [i, h] of (hooks ?? []).entries()) await runHook(name, i, h, stateJson);
}

/** Runs every hook even when some fail (poststart, poststop: the spec asks for a warning only); returns the failures. */
export async function runHooksWarn(
  name: HostHookName,
  hooks: readonly Hook[] | undefined,
  stateJson: string,
): Promise<Error[]> {
  const errors: Error[] = [];
  for (const [i, h] of (hooks ?? []).entries()) {
    try {
      await runHook(name, i, h, stateJson);
    } catch (e) {
      errors.push(e as Error);
    }
  }
  return errors;
}

/** The hook's environment, exactly its `env` (a later NAME wins; an entry without "=" is NAME=""). */
export function hookEnv(hook: Hook): Record<string, string> {
  return Object.fromEntries((hook.env ?? []).map((e) => splitEnv(e)));
}

function splitEnv(e: string): [string, string] {
  const i = e.indexOf('=');
  return i < 0 ? [e, ''] : [e.slice(0, i), e.slice(i + 1)];
}
