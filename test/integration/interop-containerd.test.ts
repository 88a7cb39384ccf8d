// containerd (Debian's 1.6) driving the runtime under test through its runc v2 shim
// (`ctr run --runtime io.containerd.runc.v2 --runc-binary <runtime>`): a foreground `ctr run --rm`
// that prints, and a detached task with exec, kill, delete. Each test starts its own containerd
// under a temp root and leaves nothing behind. BERTH_INTEROP_RUNTIME=runc|berth (default berth).
// Needs root. Fails loudly when containerd is missing.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BUSYBOX_REF } from '../lib/interop/busybox-archive.ts';
import { ContainerdPeer } from '../lib/interop/containerd.ts';
import { assertCmd, assertIncludes, assertRuntimeUsed } from '../lib/interop/expect.ts';
import { interopRuntime, processesUnder, waitFor } from '../lib/interop/harness.ts';

const rt = interopRuntime();

describe(`interop: containerd 1.6 with ${rt.name} as the runc v2 shim's binary`, () => {
  let peer: ContainerdPeer;
  before(async () => {
    peer = await ContainerdPeer.start(rt);
    await peer.importBusybox(BUSYBOX_REF);
  });
  after(async () => {
    const notes = peer ? await peer.stop() : [];
    if (notes.length > 0) console.log(`containerd cleanup:\n  ${notes.join('\n  ')}`);
  });

  it('ctr run --rm prints from the container and removes it', () => {
    const r = assertCmd(peer.ctr(['run', '--rm', ...peer.runtimeFlags(), BUSYBOX_REF, 'berth-once', 'sh', '-c', 'echo hi; echo pid=$$; id -u'], 60_000), 'ctr run --rm', peer.root);
    assertIncludes(r.stdout, 'hi\n', 'ctr run --rm output', peer.root);
    assert.match(r.stdout, /^pid=1$/m, 'the process is pid 1 of its own pid namespace');
    assert.match(r.stdout, /^0$/m, 'the process runs as uid 0');
    assertRuntimeUsed(peer.root, 'create');
    const ls = assertCmd(peer.ctr(['containers', 'ls', '-q']), 'ctr containers ls', peer.root);
    assert.equal(ls.stdout.trim(), '', '--rm removed the container');
  });

  it('ctr run -d, task exec, task kill, task delete, container delete', async () => {
    const id = 'berth-detached';
    assertCmd(peer.ctr(['run', '-d', ...peer.runtimeFlags(), BUSYBOX_REF, id, 'sh', '-c', 'echo started > /tmp/marker; exec sleep 300'], 60_000), 'ctr run -d', peer.root);
    const running = await waitFor(
      'the task to be RUNNING',
      () => peer.ctr(['tasks', 'ls']).stdout,
      (s) => new RegExp(`^${id}\\s+\\d+\\s+RUNNING`, 'm').test(s),
    );
    const pid = Number(new RegExp(`^${id}\\s+(\\d+)`, 'm').exec(running)?.[1]);
    assert.ok(pid > 0, `task pid from ${running}`);

    const ex = assertCmd(peer.ctr(['tasks', 'exec', ...peer.fifoFlags(), '--exec-id', 'probe', id, 'sh', '-c', 'cat /tmp/marker; echo pid1=$(cat /proc/1/comm)'], 30_000), 'ctr task exec', peer.root);
    assertIncludes(ex.stdout, 'started', 'exec sees the container filesystem', peer.root);
    assertIncludes(ex.stdout, 'pid1=sleep', 'exec joins the container pid namespace', peer.root);
    assertRuntimeUsed(peer.root, 'exec');

    const failing = peer.ctr(['tasks', 'exec', ...peer.fifoFlags(), '--exec-id', 'code', id, 'sh', '-c', 'exit 7'], 30_000);
    assert.equal(failing.status, 7, `exec exit status propagates: ${failing.stderr}`);

    assertCmd(peer.ctr(['tasks', 'kill', '-s', 'SIGKILL', id]), 'ctr task kill', peer.root);
    await waitFor(
      'the task to be STOPPED',
      () => peer.ctr(['tasks', 'ls']).stdout,
      (s) => new RegExp(`^${id}\\s+\\d+\\s+STOPPED`, 'm').test(s),
    );
    assertCmd(peer.ctr(['tasks', 'delete', id]), 'ctr task delete', peer.root);
    assertRuntimeUsed(peer.root, 'delete');
    assertCmd(peer.ctr(['containers', 'delete', id]), 'ctr container delete', peer.root);
    assert.equal(peer.ctr(['containers', 'ls', '-q']).stdout.trim(), '', 'no container left');
    assert.equal(peer.ctr(['tasks', 'ls', '-q']).stdout.trim(), '', 'no task left');
    // The shim exits once its last task is deleted.
    await waitFor('the shim to exit', () => processesUnder(peer.root.dir).filter((p) => p !== peer.root.daemonPid('containerd')), (l) => l.length === 0, 10_000);
  });
});
