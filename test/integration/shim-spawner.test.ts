// berthd's shim spawner (src/engine/shim-spawner.ts, docs/shim.md "Spawner mode") against the real
// berth-shim: concurrent starts each get their own report, every shim runs with its own flags in its
// command line and with the signal dispositions of an exec'd one, a failed create comes back as the
// shim's error, and a binary without spawner mode is reported so that berthd can exec instead.
// A fake runtime script stands in for `create` (it leaves an orphan as the "container").
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ShimSpawner, SpawnerUnsupported } from '../../src/engine/shim-spawner.ts';
import { shimBinary, stopShim } from '../../src/shim/index.ts';

if (process.getuid?.() !== 0) throw new Error('shim-spawner tests need root (the shim becomes a subreaper and writes state as root)');

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
  case "$1" in --pid-file) pidfile="$2"; shift;; --bundle) [ -e "$2/fail" ] && { echo "create refused: $2/fail" >&2; exit 1; }; shift;; esac
  shift
done
sleep 30 &
echo $! > "$pidfile"
`,
);
chmodSync(FAKE, 0o755);

function opts(i: number, bundle = dir) {
  return { id: `spawned-${i}`, bundle, runtime: FAKE, runtimeRoot: join(dir, 'rt'), stateDir: join(dir, `s${i}`), logPath: join(dir, `log${i}`), logFormat: 'json-file' as const, graceMs: 0 };
}

test('eight concurrent starts: eight shims, each with its own report, flags and a default SIGCHLD', async () => {
  const sp = new ShimSpawner(shimBinary());
  const settled = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => sp.start(opts(i))));
  const infos = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  try {
    assert.deepEqual(settled.filter((r) => r.status === 'rejected'), [], 'every start succeeded');
    assert.equal(new Set(infos.map((x) => x.shimPid)).size, 8, 'distinct shims');
    for (const [i, info] of infos.entries()) {
      const argv = readFileSync(`/proc/${info.shimPid}/cmdline`, 'utf8').split('\0');
      assert.ok(argv.includes('--id') && argv[argv.indexOf('--id') + 1] === `spawned-${i}`, `shim ${info.shimPid} names its container: ${argv.join(' ')}`);
      assert.equal(Number(readFileSync(join(info.stateDir, 'container.pid'), 'utf8')), info.containerPid);
      // The shim is no child of the spawner (it detached) and its runtime ignored no SIGCHLD.
      const ppid = Number(readFileSync(`/proc/${info.shimPid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
      assert.notEqual(ppid, process.pid);
      const sigIgn = BigInt(`0x${/SigIgn:\s+([0-9a-f]+)/.exec(readFileSync(join(dir, `log${i}`), 'utf8'))?.[1] ?? 'ffff'}`);
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
    await assert.rejects(sp.start(opts(20, bundle)), (e: Error) => /create refused/.test(e.message) && /spawned-20/.test(e.message));
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
