// Shared by the engine integration tests: a busybox rootfs tar (Debian's busybox-static with the
// applets the tests use as symlinks, and an /etc/passwd), a berthd under temporary roots, and a
// check that nothing was left behind.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import assert from 'node:assert/strict';
import { promisify } from 'node:util';
import { BerthClient } from '../../src/client/client.ts';
import { NetworkManager } from '../../src/network/network-manager.ts';
import { DOCKER_CLIENTS } from '../lib/docker-cli.ts';
import { type TarEntry, tarOf } from '../lib/test-images.ts';

export const REPO = join(import.meta.dirname, '../..');
export const NODE = process.execPath;

const APPLETS = [
  'sh',
  'echo',
  'sleep',
  'cat',
  'ls',
  'id',
  'hostname',
  'true',
  'false',
  'ps',
  'env',
  'pwd',
  'touch',
  'mkdir',
  'printf',
  'seq',
  'kill',
  'head',
  'tr',
  'date',
  'uname',
  'whoami',
  'nc',
  'ip',
  'wget',
  'test',
  'grep',
  'wc',
  'ifconfig',
  'httpd',
  'ping',
  'nslookup',
  'netstat',
  'trap',
];

/** `extra` entries are added at the end (a symlink for a test, say). */
export async function busyboxRootfsTar(extra: TarEntry[] = []): Promise<Buffer> {
  if (!existsSync('/bin/busybox'))
    throw new Error('/bin/busybox is missing: install the Debian package busybox-static');
  const bin = readFileSync('/bin/busybox');
  return tarOf([
    { name: 'bin/' },
    { name: 'bin/busybox', data: bin, mode: 0o755 },
    ...APPLETS.filter((a) => a !== 'trap').map((a) => ({ name: `bin/${a}`, linkname: 'busybox' })),
    { name: 'etc/' },
    {
      name: 'etc/passwd',
      data: Buffer.from('root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n'),
    },
    { name: 'etc/group', data: Buffer.from('root:x:0:\nnogroup:x:65534:\n') },
    { name: 'tmp/', mode: 0o1777 },
    { name: 'root/' },
    ...extra,
  ]);
}

export type Daemon = {
  proc: ChildProcess;
  client: BerthClient;
  root: string;
  runRoot: string;
  socket: string;
  stderr: () => string;
  stop: (signal?: NodeJS.Signals) => Promise<void>;
  /** Resolves when berthd has exited, however (a fault point's SIGKILL, say). */
  exited: Promise<void>;
};

/** Short temp dirs: the shim's attach socket path must fit in sun_path. */
export function tempRoots(): { root: string; runRoot: string } {
  return { root: mkdtempSync('/tmp/bte-'), runRoot: mkdtempSync('/tmp/btr-') };
}

/** `env` is added to berthd's environment (BERTH_FAULT_POINT for the fault tests). */
export async function startBerthd(
  root: string,
  runRoot: string,
  extra: string[] = [],
  config?: object,
  env?: Record<string, string>,
): Promise<Daemon> {
  const socket = join(runRoot, 'berthd.sock');
  const args = [join(REPO, 'src/cli/berthd/main.ts'), '--root', root, '--run-root', runRoot, '--debug', ...extra];
  if (config) {
    const cfgPath = join(root, 'berthd-test.json');
    await writeFile(cfgPath, JSON.stringify(config));
    args.push('--config', cfgPath);
  }
  const proc = spawn(NODE, args, {
    stdio: ['ignore', 'ignore', 'pipe'],
    ...(env ? { env: { ...process.env, ...env } } : {}),
  });
  let err = '';
  proc.stderr!.on('data', (c: Buffer) => {
    err += c.toString();
  });
  const client = new BerthClient(socket);
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  // A deadline, not a count of polls: at a load of 35, berthd took 15 s to serve (from source), and
  // its first connection loads the API server (from source, dozens of modules: seconds more).
  const end = Date.now() + 90_000;
  while (Date.now() < end) {
    if (proc.exitCode !== null || proc.signalCode !== null)
      throw new Error(`berthd exited with ${proc.exitCode ?? proc.signalCode}: ${err}`);
    if (existsSync(socket) && (await client.ping())) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  if (!(await client.ping())) {
    // Never leave it behind: the test fails, the daemon goes (a live child holds the test process open).
    proc.kill('SIGKILL');
    await exited;
    throw new Error(`berthd did not come up in 90 s: ${err}`);
  }
  // Another berthd on the same run root answers the ping while this one refuses to start.
  if (proc.exitCode !== null) throw new Error(`berthd exited with ${proc.exitCode}: ${err}`);
  return {
    proc,
    client,
    root,
    runRoot,
    socket,
    stderr: () => err,
    exited,
    stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      await exited;
    },
  };
}

/**
 * A berthd for the Docker API's tests without networking (`--no-network`), with busybox:latest
 * imported: refused, naming what is missing, without root, either docker client, berth-shim or
 * berth-runtime. berthd's own docker config (its stored logins) is private under `root` and apart
 * from the clients', so a pull that works used the client's credentials and the Docker API can be
 * seen never to write there.
 */
export async function startDockerApiBerthd(
  root: string,
  runRoot: string,
  what = 'the Docker API tests',
): Promise<{ daemon: Daemon; dockerSocket: string; berthdDockerConfig: string }> {
  if (process.getuid?.() !== 0) throw new Error(`${what} need root (mounts, namespaces, cgroups)`);
  for (const c of DOCKER_CLIENTS)
    if (!existsSync(c.bin)) throw new Error(`${c.bin} is missing: install it (scripts/setup.sh)`);
  for (const p of [join(REPO, 'native/build/berth-shim'), join(REPO, 'dist/bin/berth-runtime')])
    if (!existsSync(p)) throw new Error(`${p} is missing: run scripts/build.sh`);
  const berthdDockerConfig = join(root, 'berthd-docker-config');
  const daemon = await startBerthd(root, runRoot, ['--no-network'], undefined, { DOCKER_CONFIG: berthdDockerConfig });
  await daemon.client.importRootfs(Readable.from([await busyboxRootfsTar()]), 'busybox:latest');
  return { daemon, dockerSocket: join(runRoot, 'docker.sock'), berthdDockerConfig };
}

/** A berthd for the Docker API's network tests: root, both docker clients and the CNI plugins checked, busybox:latest imported. */
export async function startDockerNetworkBerthd(root: string, runRoot: string, config: object): Promise<Daemon> {
  if (process.getuid?.() !== 0) throw new Error('the Docker API tests need root');
  for (const c of DOCKER_CLIENTS)
    if (!existsSync(c.bin)) throw new Error(`${c.bin} is missing: install it (scripts/setup.sh)`);
  if (!existsSync('/usr/lib/cni/bridge'))
    throw new Error('CNI plugins missing: apt-get install containernetworking-plugins');
  const d = await startBerthd(root, runRoot, [], config);
  await d.client.importRootfs(Readable.from([await busyboxRootfsTar()]), 'busybox:latest');
  return d;
}

/**
 * A berthd for the CRI suites, with busybox:latest imported: refused, naming what is missing, when the
 * host lacks root, the CNI plugins or berth-pause.
 */
export async function startCriBerthd(root: string, runRoot: string, config: object): Promise<Daemon> {
  if (process.getuid?.() !== 0) throw new Error('CRI integration tests need root');
  if (!existsSync('/usr/lib/cni/bridge') || !existsSync('/usr/lib/cni/portmap'))
    throw new Error('CNI plugins missing: apt-get install containernetworking-plugins');
  if (!existsSync(join(REPO, 'native/build/berth-pause')))
    throw new Error('native/build/berth-pause is missing: run scripts/build.sh');
  const d = await startBerthd(root, runRoot, [], config);
  await d.client.importRootfs(Readable.from([await busyboxRootfsTar()]), 'busybox:latest');
  return d;
}

/** Host resources under the test's roots that are still there (mounts, shims, netns). */
export function leftovers(root: string, runRoot: string): string[] {
  const out: string[] = [];
  for (const l of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const mp = l.split(' ')[4];
    if (mp && (mp.startsWith(root) || mp.startsWith(runRoot))) out.push(`mount ${mp}`);
  }
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if ((cmd.includes(root) || cmd.includes(runRoot)) && !cmd.includes('node --test'))
        out.push(`process ${pid}: ${cmd.replace(/\0/g, ' ').slice(0, 200)}`);
    } catch {}
  }
  return out;
}

/** Polls `fn` every `pollMs` until it holds; fails naming `what` after `ms`. */
export async function until(
  what: string,
  fn: () => Promise<boolean> | boolean,
  ms = 15_000,
  pollMs = 100,
): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, pollMs));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export async function removeRoots(...dirs: string[]): Promise<void> {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
}

/**
 * The end of an engine test file: every container force-removed (and whatever `beforeStop` does
 * with the daemon still up), berthd stopped, then with `network` no CNI attachment and no netns
 * left, and nothing under the roots left on the host; the roots are removed whatever happened.
 */
export async function finish(
  d: Daemon | undefined,
  root: string,
  runRoot: string,
  o: { network?: boolean; beforeStop?: (d: Daemon) => Promise<void> } = {},
): Promise<void> {
  try {
    if (d) {
      for (const c of await d.client.list({ all: true }).catch(() => []))
        await d.client.remove(c.id, { force: true }).catch(() => {});
      await o.beforeStop?.(d);
      await d.stop();
    }
    if (o.network) {
      const m = await NetworkManager.open({ root: join(root, 'network'), runDir: runRoot, defaultNetwork: false });
      assert.deepEqual(
        (await m.listAttachments()).map((a) => a.containerId),
        [],
        'every attachment was detached with its container',
      );
      assert.deepEqual(
        existsSync(join(runRoot, 'netns')) ? readdirSync(join(runRoot, 'netns')) : [],
        [],
        'every netns was removed with its container',
      );
      await m.destroy();
    }
    const left = leftovers(root, runRoot);
    assert.deepEqual(left, [], `left behind: ${left.join('; ')}`);
  } finally {
    await removeRoots(root, runRoot);
  }
}

/** GETs `url` until it answers (a server in a container may still be starting): its body. */
export async function fetchText(url: string, tries = 50): Promise<string> {
  let last: unknown;
  for (let i = 0; i < tries; i++) {
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
      return await r.text();
    } catch (e) {
      last = e;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  throw new Error(`${url}: ${(last as Error).message}`);
}

/**
 * The real berth CLI against the berthd at `socket`: its status and output (never throws). From
 * source by default; BERTH_BIN names a binary instead (dist/bin/berth: the native front, which
 * runs `exec` itself and the Node bundle for the rest; docs/native.md).
 */
export async function berthCli(
  socket: string,
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  const bin = process.env.BERTH_BIN;
  const [cmd, pre] = bin ? [bin, []] : [NODE, [join(REPO, 'src/cli/berth/main.ts')]];
  try {
    const r = await promisify(execFile)(cmd, [...pre, '--host', socket, ...args], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: typeof x.code === 'number' ? x.code : 1, stdout: x.stdout, stderr: x.stderr };
  }
}
