// Podman (Debian's 4.3, cgroupfs manager, no systemd) with `--runtime` set to the runtime under
// test: `run --rm` that prints; a detached container with exec, logs, stop (a graceful SIGTERM the
// container traps) and rm; and an interactive `run -it` session in a real terminal (tmux): a command
// typed, its output read from the screen, `exit` ending podman with the shell's status.
// Everything under a temp root; nothing left behind. BERTH_INTEROP_RUNTIME=runc|berth (default berth).
// Needs root. Fails loudly when podman, conmon or tmux is missing.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BUSYBOX_REF } from '../lib/interop/busybox-archive.ts';
import { assertCmd, assertIncludes, assertRuntimeUsed, runtimeEvidence } from '../lib/interop/expect.ts';
import { interopRuntime, waitFor } from '../lib/interop/harness.ts';
import { PODMAN, PodmanPeer } from '../lib/interop/podman.ts';
import { SIZE_WHEN_SET, TmuxSession } from '../lib/interop/tmux-session.ts';

const rt = interopRuntime();
const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

/** A podman command line for a tmux pane: the peer's environment and global flags, then `args`. */
function podmanLine(peer: PodmanPeer, args: string[]): string {
  const env = peer.env();
  const envArgs = [
    'CONTAINERS_CONF',
    'CONTAINERS_STORAGE_CONF',
    'CONTAINERS_REGISTRIES_CONF',
    'XDG_CONFIG_HOME',
    'XDG_DATA_HOME',
    'PATH',
  ].map((k) => `${k}=${env[k] ?? ''}`);
  return ['env', ...envArgs, PODMAN, ...peer.globalFlags(), ...args].map(quote).join(' ');
}

describe(`interop: podman 4.3 with --runtime ${rt.name}`, () => {
  let peer: PodmanPeer;
  before(async () => {
    peer = await PodmanPeer.start(rt);
    await peer.loadBusybox(BUSYBOX_REF);
  });
  after(async () => {
    const notes = peer ? await peer.stop() : [];
    if (notes.length > 0) console.log(`podman cleanup:\n  ${notes.join('\n  ')}`);
  });

  it('podman run --rm prints from the container', () => {
    const r = assertCmd(
      peer.podman([
        'run',
        '--rm',
        ...peer.runFlags(),
        '--hostname',
        'berthbox',
        BUSYBOX_REF,
        'sh',
        '-c',
        'echo hi from $(hostname); echo pid=$$',
      ]),
      'podman run --rm',
      peer.root,
    );
    assertIncludes(r.stdout, 'hi from berthbox', 'podman run output', peer.root);
    assert.match(r.stdout, /^pid=1$/m, 'the process is pid 1 of its own pid namespace');
    assertRuntimeUsed(peer.root, 'create');
    assert.equal(peer.podman(['ps', '-aq']).stdout.trim(), '', '--rm removed the container');
  });

  it('podman run -d, exec, logs, stop, rm', async () => {
    const name = 'berth-detached';
    const script = 'echo started; trap "echo got TERM; exit 0" TERM; while :; do sleep 0.2; done';
    const run = assertCmd(
      peer.podman(['run', '-d', ...peer.runFlags(), '--name', name, BUSYBOX_REF, 'sh', '-c', script]),
      'podman run -d',
      peer.root,
    );
    assert.match(run.stdout.trim(), /^[0-9a-f]{64}$/, `podman run -d prints the container id: ${run.stdout}`);
    await waitFor(
      'the container to be running',
      () => peer.podman(['inspect', '--format', '{{.State.Status}}', name]).stdout.trim(),
      (s) => s === 'running',
    );

    const ex = assertCmd(
      peer.podman(['exec', name, 'sh', '-c', 'echo in=$(cat /proc/1/comm); id -u']),
      'podman exec',
      peer.root,
    );
    assertIncludes(ex.stdout, 'in=sh', 'exec joins the container pid namespace', peer.root);
    assert.match(ex.stdout, /^0$/m);
    assertRuntimeUsed(peer.root, 'exec');
    const code = peer.podman(['exec', name, 'sh', '-c', 'exit 5']);
    assert.equal(code.status, 5, `exec exit status propagates: ${code.stderr}\n${runtimeEvidence(peer.root)}`);

    await waitFor(
      'the container log to show "started"',
      () => peer.podman(['logs', name]).stdout,
      (s) => s.includes('started'),
    );

    assertCmd(peer.podman(['stop', '-t', '10', name]), 'podman stop', peer.root);
    const state = peer.podman(['inspect', '--format', '{{.State.Status}} {{.State.ExitCode}}', name]).stdout.trim();
    assert.equal(
      state,
      'exited 0',
      `the container trapped SIGTERM and exited 0 (stop delivered SIGTERM, not SIGKILL)\n${runtimeEvidence(peer.root)}`,
    );
    assertIncludes(peer.podman(['logs', name]).stdout, 'got TERM', 'podman logs after stop', peer.root);
    assertRuntimeUsed(peer.root, 'kill');

    assertCmd(peer.podman(['rm', name]), 'podman rm', peer.root);
    assert.equal(peer.podman(['ps', '-aq']).stdout.trim(), '', 'no container left');
  });

  it('podman run -it: an interactive shell in a real terminal', async () => {
    const tmux = new TmuxSession(peer.root.dir);
    try {
      tmux.start(
        podmanLine(peer, ['run', '-it', '--rm', ...peer.runFlags(), '--name', 'berth-it', BUSYBOX_REF, 'sh']),
        peer.env(),
      );
      // The shell's prompt ("/ #") shows that the pty reached it.
      await tmux.waitScreen('the container shell prompt', (s) => /\/ # ?$/m.test(s) || tmux.exitStatus() !== undefined);
      assert.equal(
        tmux.exitStatus(),
        undefined,
        `podman run -it exited early:\n${tmux.screen()}\n${runtimeEvidence(peer.root)}`,
      );
      tmux.type('echo answer=$((6*7)); tty; ' + SIZE_WHEN_SET);
      const screen = await tmux.waitScreen('the command output', (s) => /answer=42/.test(s) && /^\d+ \d+\s*$/m.test(s));
      assert.match(screen, /^\/dev\/(pts\/\d+|console)\s*$/m, 'stdin is a terminal in the container');
      assert.match(screen, /^40 160\s*$/m, 'the container terminal has the size of the tmux pane');
      tmux.type('exit 3');
      const status = await waitFor(
        'podman run -it to exit',
        () => tmux.exitStatus(),
        (s) => s !== undefined,
      );
      assert.equal(
        status,
        3,
        `podman run -it exits with the shell's status (got ${status})\n${tmux.screen()}\n${runtimeEvidence(peer.root)}`,
      );
      assertRuntimeUsed(peer.root, 'create');
      assert.equal(peer.podman(['ps', '-aq']).stdout.trim(), '', '--rm removed the container');
    } finally {
      tmux.kill();
    }
  });
  it('podman exec -it: an interactive shell joined to a running container', async () => {
    const name = 'berth-exec-it';
    assertCmd(
      peer.podman([
        'run',
        '-d',
        ...peer.runFlags(),
        '--name',
        name,
        BUSYBOX_REF,
        'sh',
        '-c',
        'echo ready > /tmp/ready; exec sleep 300',
      ]),
      'podman run -d',
      peer.root,
    );
    const tmux = new TmuxSession(peer.root.dir);
    try {
      tmux.start(podmanLine(peer, ['exec', '-it', name, 'sh']), peer.env());
      await tmux.waitScreen('the exec shell prompt', (s) => /\/ # ?$/m.test(s) || tmux.exitStatus() !== undefined);
      assert.equal(
        tmux.exitStatus(),
        undefined,
        `podman exec -it exited early:\n${tmux.screen()}\n${runtimeEvidence(peer.root)}`,
      );
      tmux.type('cat /tmp/ready; echo comm=$(cat /proc/1/comm); tty; ' + SIZE_WHEN_SET);
      const screen = await tmux.waitScreen(
        'the command output',
        (s) => /^ready\s*$/m.test(s) && /^\d+ \d+\s*$/m.test(s),
      );
      assert.match(screen, /^comm=sleep\s*$/m, 'exec joined the container pid namespace');
      assert.match(screen, /^\/dev\/pts\/\d+\s*$/m, 'stdin is a terminal in the exec session');
      assert.match(screen, /^40 160\s*$/m, 'the exec terminal has the size of the tmux pane');
      tmux.type('exit 4');
      const status = await waitFor(
        'podman exec -it to exit',
        () => tmux.exitStatus(),
        (s) => s !== undefined,
      );
      assert.equal(
        status,
        4,
        `podman exec -it exits with the shell's status (got ${status})\n${tmux.screen()}\n${runtimeEvidence(peer.root)}`,
      );
      assert.ok(
        peer.root
          .trace()
          .split('\n')
          .some((l) => / exec /.test(l) && / --console-socket /.test(l)),
        `the runtime's exec got a console socket:\n${runtimeEvidence(peer.root)}`,
      );
    } finally {
      tmux.kill();
      peer.podman(['rm', '-f', '-t', '0', name]);
    }
  });

  it('podman run --memory --pids-limit: the limits reach the container cgroup', () => {
    const r = assertCmd(
      peer.podman([
        'run',
        '--rm',
        ...peer.runFlags(),
        '--memory',
        '64m',
        '--pids-limit',
        '77',
        BUSYBOX_REF,
        'sh',
        '-c',
        'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max',
      ]),
      'podman run with limits',
      peer.root,
    );
    assert.deepEqual(
      r.stdout.trim().split(/\s+/),
      [String(64 * 1024 * 1024), '77'],
      `limits seen in the container: ${r.stdout}\n${runtimeEvidence(peer.root)}`,
    );
  });
});
