// containerd (Debian's 1.6) driving the runtime under test through its runc v2 shim
// (`ctr run --runtime io.containerd.runc.v2 --runc-binary <runtime>`): a foreground `ctr run --rm`
// that prints, a detached task with exec, kill, delete, `run -t` and `task exec -t` in a real
// terminal (tmux), and limits. Each test starts its own containerd
// under a temp root and leaves nothing behind. BERTH_INTEROP_RUNTIME=runc|berth (default berth).
// Needs root. Fails loudly when containerd is missing.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BUSYBOX_REF } from '../lib/interop/busybox-archive.ts';
import { CTR, ContainerdPeer } from '../lib/interop/containerd.ts';
import { assertCmd, assertIncludes, assertRuntimeUsed, runtimeEvidence } from '../lib/interop/expect.ts';
import { cleanEnv, interopRuntime, processesUnder, waitFor } from '../lib/interop/harness.ts';
import { SIZE_WHEN_SET, TmuxSession } from '../lib/interop/tmux-session.ts';

const rt = interopRuntime();
const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

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
    const r = assertCmd(
      peer.ctr(
        ['run', '--rm', ...peer.runtimeFlags(), BUSYBOX_REF, 'berth-once', 'sh', '-c', 'echo hi; echo pid=$$; id -u'],
        60_000,
      ),
      'ctr run --rm',
      peer.root,
    );
    assertIncludes(r.stdout, 'hi\n', 'ctr run --rm output', peer.root);
    assert.match(r.stdout, /^pid=1$/m, 'the process is pid 1 of its own pid namespace');
    assert.match(r.stdout, /^0$/m, 'the process runs as uid 0');
    assertRuntimeUsed(peer.root, 'create');
    const ls = assertCmd(peer.ctr(['containers', 'ls', '-q']), 'ctr containers ls', peer.root);
    assert.equal(ls.stdout.trim(), '', '--rm removed the container');
  });

  it('ctr run -d, task exec, task kill, task delete, container delete', async () => {
    const id = 'berth-detached';
    assertCmd(
      peer.ctr(
        [
          'run',
          '-d',
          ...peer.runtimeFlags(),
          BUSYBOX_REF,
          id,
          'sh',
          '-c',
          'echo started > /tmp/marker; exec sleep 300',
        ],
        60_000,
      ),
      'ctr run -d',
      peer.root,
    );
    const running = await waitFor(
      'the task to be RUNNING',
      () => peer.ctr(['tasks', 'ls']).stdout,
      (s) => new RegExp(`^${id}\\s+\\d+\\s+RUNNING`, 'm').test(s),
    );
    const pid = Number(new RegExp(`^${id}\\s+(\\d+)`, 'm').exec(running)?.[1]);
    assert.ok(pid > 0, `task pid from ${running}`);

    const ex = assertCmd(
      peer.ctr(
        [
          'tasks',
          'exec',
          ...peer.fifoFlags(),
          '--exec-id',
          'probe',
          id,
          'sh',
          '-c',
          'cat /tmp/marker; echo pid1=$(cat /proc/1/comm)',
        ],
        30_000,
      ),
      'ctr task exec',
      peer.root,
    );
    assertIncludes(ex.stdout, 'started', 'exec sees the container filesystem', peer.root);
    assertIncludes(ex.stdout, 'pid1=sleep', 'exec joins the container pid namespace', peer.root);
    assertRuntimeUsed(peer.root, 'exec');

    const failing = peer.ctr(
      ['tasks', 'exec', ...peer.fifoFlags(), '--exec-id', 'code', id, 'sh', '-c', 'exit 7'],
      30_000,
    );
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
    await waitFor(
      'the shim to exit',
      () => processesUnder(peer.root.dir).filter((p) => p !== peer.root.daemonPid('containerd')),
      (l) => l.length === 0,
      10_000,
    );
  });
  it('ctr run -t and ctr task exec -t: interactive shells in a real terminal', async () => {
    const id = 'berth-tty';
    const tmux = new TmuxSession(peer.root.dir);
    const tmuxExec = new TmuxSession(peer.root.dir, 'berth-exec');
    try {
      const ctrLine = (args: string[]) =>
        [CTR, '--address', peer.address, '--namespace', peer.namespace, ...args].map(quote).join(' ');
      tmux.start(ctrLine(['run', '-t', '--rm', ...peer.runtimeFlags(), BUSYBOX_REF, id, 'sh']), cleanEnv());
      await tmux.waitScreen('the container shell prompt', (s) => /\/ # ?$/m.test(s) || tmux.exitStatus() !== undefined);
      assert.equal(
        tmux.exitStatus(),
        undefined,
        `ctr run -t exited early:\n${tmux.screen()}\n${runtimeEvidence(peer.root)}`,
      );
      tmux.type('echo answer=$((6*7)); tty; ' + SIZE_WHEN_SET);
      const screen = await tmux.waitScreen('the command output', (s) => /answer=42/.test(s) && /^\d+ \d+\s*$/m.test(s));
      assert.match(screen, /^\/dev\/(pts\/\d+|console)\s*$/m, 'stdin is a terminal in the container');
      assert.match(screen, /^40 160\s*$/m, 'the container terminal has the size of the tmux pane');

      tmuxExec.start(ctrLine(['tasks', 'exec', '-t', ...peer.fifoFlags(), '--exec-id', 'tty', id, 'sh']), cleanEnv());
      await tmuxExec.waitScreen(
        'the exec shell prompt',
        (s) => /\/ # ?$/m.test(s) || tmuxExec.exitStatus() !== undefined,
      );
      assert.equal(
        tmuxExec.exitStatus(),
        undefined,
        `ctr task exec -t exited early:\n${tmuxExec.screen()}\n${runtimeEvidence(peer.root)}`,
      );
      tmuxExec.type('echo comm=$(cat /proc/1/comm); tty');
      const execScreen = await tmuxExec.waitScreen('the exec output', (s) => /^comm=\S+\s*$/m.test(s));
      assert.match(execScreen, /^comm=sh\s*$/m, 'exec joined the container pid namespace');
      assert.match(execScreen, /^\/dev\/pts\/\d+\s*$/m, 'stdin is a terminal in the exec session');
      tmuxExec.type('exit 4');
      assert.equal(
        await waitFor(
          'ctr task exec -t to exit',
          () => tmuxExec.exitStatus(),
          (s) => s !== undefined,
        ),
        4,
        `ctr task exec -t exits with the shell's status\n${tmuxExec.screen()}`,
      );

      tmux.type('exit 3');
      const status = await waitFor(
        'ctr run -t to exit',
        () => tmux.exitStatus(),
        (s) => s !== undefined,
      );
      assert.equal(
        status,
        3,
        `ctr run -t exits with the shell's status (got ${status})\n${tmux.screen()}\n${runtimeEvidence(peer.root)}`,
      );
      assert.ok(
        peer.root
          .trace()
          .split('\n')
          .some((l) => / create /.test(l) && / --console-socket /.test(l)),
        `the runtime's create got a console socket:\n${runtimeEvidence(peer.root)}`,
      );
    } finally {
      tmuxExec.kill();
      tmux.kill();
    }
  });

  it('ctr run --memory-limit --cpu-quota: the limits reach the container cgroup', async () => {
    const id = 'berth-limits';
    assertCmd(
      peer.ctr([
        'run',
        '-d',
        ...peer.runtimeFlags(),
        '--memory-limit',
        String(64 * 1024 * 1024),
        '--cpu-quota',
        '50000',
        '--cpu-period',
        '100000',
        BUSYBOX_REF,
        id,
        'sleep',
        '300',
      ]),
      'ctr run -d with limits',
      peer.root,
    );
    try {
      // ctr's default spec mounts no cgroupfs in the container: read the cgroup (/<namespace>/<id>) from the host.
      const cg = (ctl: string, file: string) =>
        readFileSync(join('/sys/fs/cgroup', ctl, peer.namespace, id, file), 'utf8').trim();
      assert.equal(cg('memory', 'memory.limit_in_bytes'), String(64 * 1024 * 1024), runtimeEvidence(peer.root));
      assert.equal(cg('cpu', 'cpu.cfs_quota_us'), '50000');
      assert.equal(cg('cpu', 'cpu.cfs_period_us'), '100000');
      const pid = Number(new RegExp(`^${id}\\s+(\\d+)`, 'm').exec(peer.ctr(['tasks', 'ls']).stdout)?.[1]);
      assert.ok(
        cg('memory', 'cgroup.procs').split('\n').includes(String(pid)),
        `the task (pid ${pid}) is in its cgroup`,
      );
    } finally {
      peer.ctr(['tasks', 'kill', '-s', 'SIGKILL', id]);
      await waitFor(
        'the task to stop',
        () => peer.ctr(['tasks', 'ls']).stdout,
        (s) => !new RegExp(`^${id}\\s+\\d+\\s+RUNNING`, 'm').test(s),
      );
      assertCmd(peer.ctr(['tasks', 'delete', id]), 'ctr task delete', peer.root);
      assertCmd(peer.ctr(['containers', 'delete', id]), 'ctr container delete', peer.root);
    }
    assert.ok(
      !existsSync(join('/sys/fs/cgroup/memory', peer.namespace, id)),
      'the runtime removed the container cgroup on delete',
    );
  });
});
