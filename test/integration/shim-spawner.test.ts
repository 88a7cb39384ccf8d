// berthd's shim spawner (src/engine/shim-spawner.ts, docs/shim.md "Spawner mode") against the real
// berth-shim: concurrent starts each get their own report, every shim runs with its own flags in its
// command line and with the signal dispositions of an exec'd one, a failed create comes back as the
// shim's error, and a binary without spawner mode is reported so that berthd can exec instead.
// A fake runtime script stands in for `create` (it leaves an orphan as the "container").
import assert from 'node:assert/strict';
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ShimSpawner, SpawnerUnsupported } from '../../src/engine/shim-spawner.ts';
import { shimBinary, stopShim } from '../../src/shim/index.ts';

if (process.getuid?.() !== 0)
  throw new Error('shim-spawner tests need root (the shim becomes a subreaper and writes state as root)');

const dir = mkdtempSync('/tmp/berth-spawner-');
after(() => rmSync(dir, { recursive: true, force: true }));

// Prints its signal state to the "container's" stderr (the shim's log), then leaves an orphan whose
// pid it writes where the shim asked: what a runtime's create does, in miniature.
const FAKE = join(dir, 'fake-runtime');
writeFileSync(
  FAKE,
  `#!/bin/sh
grep -E "^SigIgn" /proc/self/status >&2
pidfile=
while [ $# -gt 0 ]; do
  case "$1" in --pid-file) pidfile="$2"; shift;; --bundle) [ -e "$2/fail" ] && { echo "create refused: $2/fail" >&2; exit 1; }; [ -e "$2/hang" ] && { echo $$ > "$2/runtime.pid"; exec sleep 60; }; shift;; esac
  shift
done
sleep 30 &
echo $! > "$pidfile"
`,
);
chmodSync(FAKE, 0o755);

function opts(i: number, bundle = dir) {
  return {
    id: `spawned-${i}`,
    bundle,
    runtime: FAKE,
    runtimeRoot: join(dir, 'rt'),
    stateDir: join(dir, `s${i}`),
    logPath: join(dir, `log${i}`),
    logFormat: 'json-file' as const,
    graceMs: 0,
  };
}

test('eight concurrent starts: eight shims, each with its own report, flags and a default SIGCHLD', async () => {
  const sp = new ShimSpawner(shimBinary());
  const settled = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => sp.start(opts(i))));
  const infos = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  try {
    assert.deepEqual(
      settled.filter((r) => r.status === 'rejected'),
      [],
      'every start succeeded',
    );
    assert.equal(new Set(infos.map((x) => x.shimPid)).size, 8, 'distinct shims');
    for (const [i, info] of infos.entries()) {
      const argv = readFileSync(`/proc/${info.shimPid}/cmdline`, 'utf8').split('\0');
      assert.ok(
        argv.includes('--id') && argv[argv.indexOf('--id') + 1] === `spawned-${i}`,
        `shim ${info.shimPid} names its container: ${argv.join(' ')}`,
      );
      assert.equal(Number(readFileSync(join(info.stateDir, 'container.pid'), 'utf8')), info.containerPid);
      // The shim is no child of the spawner (it detached) and its runtime ignored no SIGCHLD.
      const ppid = Number(readFileSync(`/proc/${info.shimPid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
      assert.notEqual(ppid, process.pid);
      const sigIgn = BigInt(
        `0x${/SigIgn:\s+([0-9a-f]+)/.exec(readFileSync(join(dir, `log${i}`), 'utf8'))?.[1] ?? 'ffff'}`,
      );
      assert.equal(sigIgn & (1n << 16n), 0n, 'SIGCHLD (17) is not ignored in the runtime');
    }
  } finally {
    for (const info of infos) {
      try {
        process.kill(info.containerPid, 'SIGKILL');
      } catch {}
      await stopShim(info.stateDir, { timeoutMs: 2000 });
    }
    sp.close();
  }
});

test('a failed create comes back as the shim reported it', async () => {
  const bundle = join(dir, 'refused');
  mkdirSync(join(bundle, 'fail'), { recursive: true });
  const sp = new ShimSpawner(shimBinary());
  try {
    await assert.rejects(
      sp.start(opts(20, bundle)),
      (e: Error) => /create refused/.test(e.message) && /spawned-20/.test(e.message),
    );
  } finally {
    sp.close();
  }
});

test('a shim binary without spawner mode is reported as such (berthd then execs it)', async () => {
  const old = join(dir, 'old-shim');
  writeFileSync(old, '#!/bin/sh\necho "berth-shim: unknown flag" >&2\nexit 2\n');
  chmodSync(old, 0o755);
  const sp = new ShimSpawner(old);
  await assert.rejects(sp.start(opts(30)), SpawnerUnsupported);
  assert.equal(sp.unsupported, true);
});

function parentOf(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
}

/** Live processes whose command line matches `want`. */
function processes(want: (argv: string[]) => boolean): number[] {
  return readdirSync('/proc').flatMap((d) => {
    if (!/^\d+$/.test(d)) return [];
    try {
      const argv = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      return want(argv) && !/^State:\s+Z/m.test(readFileSync(`/proc/${d}/status`, 'utf8')) ? [Number(d)] : [];
    } catch {
      return []; // gone meanwhile
    }
  });
}

/** A bundle whose fake create blocks (exec sleep) and writes its pid to runtime.pid, once it does. */
async function hangingBundle(name: string): Promise<string> {
  const bundle = join(dir, name);
  mkdirSync(join(bundle, 'hang'), { recursive: true });
  return bundle;
}

async function runtimePid(bundle: string): Promise<number> {
  while (!existsSync(join(bundle, 'runtime.pid')) || !readFileSync(join(bundle, 'runtime.pid'), 'utf8').endsWith('\n'))
    await new Promise((r) => setTimeout(r, 10));
  return Number(readFileSync(join(bundle, 'runtime.pid'), 'utf8'));
}

function kill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {}
}

// A short timeout: without the spawner's exit line the start would end as "no report after 11000 ms".
const SHORT = { timeoutMs: 1000 };

test('a shim that exits on a flag error fails the start with that error, not a missing report', async () => {
  const sp = new ShimSpawner(shimBinary());
  try {
    // --init wants unix stream sockets at fds 3 and 4: /dev/null twice is the shim's usage error (status 2).
    const fds = [openSync('/dev/null', 'r'), openSync('/dev/null', 'r')];
    try {
      await assert.rejects(
        sp.start({ ...opts(40), ...SHORT, init: '/bin/true' }, fds),
        (e: Error) => /spawned-40/.test(e.message) && /--init needs the sync socket at fd 3/.test(e.message),
      );
    } finally {
      for (const fd of fds) closeSync(fd);
    }
    // The spawner stays usable.
    const info = await sp.start(opts(41));
    kill(info.containerPid);
    await stopShim(info.stateDir, { timeoutMs: 2000 });
  } finally {
    sp.close();
  }
});

test('a shim killed before it reported fails the start naming the signal', async () => {
  const bundle = await hangingBundle('hang-42');
  const sp = new ShimSpawner(shimBinary());
  const started = sp.start({ ...opts(42, bundle), ...SHORT, timeoutMs: 30_000 });
  started.catch(() => {});
  const rt = await runtimePid(bundle);
  try {
    // The shim berthd asked for is the spawner's child (its supervisor, the runtime's parent, is the shim's).
    const supervisor = parentOf(rt);
    const shim = parentOf(supervisor);
    assert.ok(
      readFileSync(`/proc/${shim}/cmdline`, 'utf8').split('\0').includes('--reply-tag'),
      'the process killed is the shim the spawner forked',
    );
    assert.equal(parentOf(parentOf(shim)), process.pid, 'whose parent is the spawner, our child');
    kill(shim);
    await assert.rejects(
      started,
      (e: Error) => /spawned-42/.test(e.message) && /killed by signal 9 before it reported/.test(e.message),
    );
  } finally {
    kill(rt);
    await stopShim(join(dir, 's42'), { timeoutMs: 2000 }).catch(() => {});
    sp.close();
  }
});

test('a shim binary that cannot be run fails the start at once', async () => {
  const sp = new ShimSpawner(join(dir, 'no-such-shim'));
  await assert.rejects(
    sp.start({ ...opts(43), ...SHORT }),
    (e: Error) => /no-such-shim/.test(e.message) && /could not run/.test(e.message) && /spawned-43/.test(e.message),
  );
});

test('a killed spawner fails the starts under way, and the next start runs a new one', async () => {
  const bundle = await hangingBundle('hang-44');
  const sp = new ShimSpawner(shimBinary());
  const started = sp.start({ ...opts(44, bundle), timeoutMs: 30_000 });
  started.catch(() => {});
  const rt = await runtimePid(bundle);
  try {
    const spawners = processes((a) => a[1] === '--spawner' && a.length <= 3);
    const mine = spawners.filter((pid) => parentOf(pid) === process.pid);
    assert.equal(mine.length, 1, `one spawner is ours: ${spawners.join(' ')}`);
    kill(mine[0]!);
    await assert.rejects(
      started,
      (e: Error) => /spawner/.test(e.message) && /SIGKILL/.test(e.message) && /spawned-44/.test(e.message),
    );
    const info = await sp.start(opts(45));
    assert.equal(Number(readFileSync(join(info.stateDir, 'container.pid'), 'utf8')), info.containerPid);
    kill(info.containerPid);
    await stopShim(info.stateDir, { timeoutMs: 2000 });
  } finally {
    kill(rt);
    await stopShim(join(dir, 's44'), { timeoutMs: 2000 }).catch(() => {});
    sp.close();
  }
});
