// Harness for the berth-shim integration tests (shim-*.test.ts): a session per test with its own
// temp root, runtime --root, bundles and state dirs, and a cleanup that always runs (containers
// deleted with `delete -f`, shims ended by their pid, dirs removed). The runtime is runc by
// default; BERTH_SHIM_RUNTIME=berth uses dist/bin/berth-runtime, or give a path.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import {
  type ShimInfo,
  type StartShimOptions,
  shimAlive,
  shimBinary,
  startShim,
  stopShim,
} from '../../src/shim/index.ts';
import { type BundleOptions, makeBundle } from '../lib/bundle.ts';
import { BERTH_RUNTIME, RUNC } from '../lib/runtime.ts';

export function shimRuntime(): { name: string; binary: string } {
  const e = process.env.BERTH_SHIM_RUNTIME ?? 'runc';
  if (e === 'runc') return { name: 'runc', binary: RUNC };
  if (e === 'berth') return { name: 'berth', binary: BERTH_RUNTIME };
  return { name: e, binary: e };
}

export const RUNTIME = shimRuntime();

/** Fails loudly (never skips) when something the tests need is missing. */
function checkPrerequisites(): void {
  if (process.getuid?.() !== 0) throw new Error('shim integration tests need root (they create containers)');
  if (!existsSync(RUNTIME.binary))
    throw new Error(`runtime ${RUNTIME.binary} not found (BERTH_SHIM_RUNTIME=${RUNTIME.name})`);
  if (!existsSync(shimBinary())) throw new Error(`${shimBinary()} not found: run \`make -C native\``);
}

export class ShimSession {
  readonly root: string;
  readonly runtimeRoot: string;
  readonly ids: string[] = [];
  readonly stateDirs: string[] = [];
  #n = 0;

  constructor() {
    this.root = mkdtempSync('/tmp/berth-shim-');
    this.runtimeRoot = join(this.root, 'rt');
    mkdirSync(this.runtimeRoot);
  }

  id(): string {
    const id = `berth-shim-${randomBytes(4).toString('hex')}`;
    this.ids.push(id);
    return id;
  }

  bundle(opts: BundleOptions): string {
    const dir = join(this.root, `bundle-${++this.#n}`);
    makeBundle(dir, opts);
    return dir;
  }

  stateDir(): string {
    const d = join(this.root, `state-${++this.#n}`);
    this.stateDirs.push(d);
    return d;
  }

  /** startShim with this session's runtime, root and a fresh state dir; log in the state dir. */
  async start(
    id: string,
    opts: Partial<StartShimOptions> & { bundle?: string },
  ): Promise<ShimInfo & { logPath: string }> {
    const stateDir = opts.stateDir ?? this.stateDir();
    const logPath = opts.logPath ?? join(stateDir, 'container.log');
    const info = await startShim({
      id,
      bundle: opts.bundle ?? '',
      runtime: RUNTIME.binary,
      runtimeRoot: this.runtimeRoot,
      logFormat: 'json-file',
      graceMs: 2000,
      ...opts,
      stateDir,
      logPath,
    });
    return { ...info, logPath };
  }

  /** Runs the runtime with this session's --root; throws with its stderr when it fails. */
  runtime(...args: string[]): string {
    const r = spawnSync(RUNTIME.binary, ['--root', this.runtimeRoot, ...args], { encoding: 'utf8', timeout: 30_000 });
    if (r.status !== 0)
      throw new Error(`${RUNTIME.name} ${args.join(' ')}: status ${r.status}: ${r.stderr}${r.error ?? ''}`);
    return r.stdout;
  }

  writeFile(name: string, text: string): string {
    const p = join(this.root, name);
    writeFileSync(p, text);
    return p;
  }

  async cleanup(): Promise<void> {
    const problems: string[] = [];
    for (const id of this.ids) {
      spawnSync(RUNTIME.binary, ['--root', this.runtimeRoot, 'delete', '-f', id], { timeout: 30_000 });
    }
    // A deleted container's shim records the exit and leaves by itself: give it a moment.
    const alive = (d: string) => existsSync(join(d, 'shim.pid')) && shimAlive(d);
    for (let i = 0; i < 150 && this.stateDirs.some(alive); i++) await new Promise((r) => setTimeout(r, 20));
    for (const d of this.stateDirs) {
      try {
        if (alive(d)) {
          problems.push(`shim of ${d} still ran at cleanup`);
          await stopShim(d, { timeoutMs: 3000 });
        }
      } catch (e) {
        problems.push(`stopping the shim of ${d}: ${(e as Error).message}`);
      }
    }
    rmSync(this.root, { recursive: true, force: true });
    if (problems.length) throw new Error(`cleanup: ${problems.join('; ')}`);
  }
}

/** A test with a session; the cleanup runs whatever happens, and a shim left running fails it. */
export function shimTest(name: string, fn: (s: ShimSession, t: TestContext) => Promise<void>, timeout = 60_000): void {
  test(`[${RUNTIME.name}] ${name}`, { timeout }, async (t) => {
    checkPrerequisites();
    const s = new ShimSession();
    let failure: unknown;
    try {
      await fn(s, t);
    } catch (e) {
      failure = e;
    }
    try {
      await s.cleanup();
    } catch (e) {
      failure ??= e; // never hide the test's own failure behind a cleanup one
    }
    if (failure !== undefined) throw failure;
  });
}
