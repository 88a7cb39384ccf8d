// dockerd (Debian's docker.io 20.10) with the runtime under test added as the runtime "berth":
// `docker run --runtime berth --rm` that prints, and a detached container with exec, logs, stop
// (a graceful SIGTERM the container traps) and rm; `run -it` in a real terminal (tmux); limits. Each test run starts its own dockerd under a
// temp root and leaves nothing behind. BERTH_INTEROP_RUNTIME=runc|berth (default berth).
// Needs root. Fails loudly when docker.io is missing.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BUSYBOX_REF } from '../lib/interop/busybox-archive.ts';
import { DOCKER, DOCKER_RUNTIME_NAME, DockerdPeer } from '../lib/interop/dockerd.ts';
import { assertCmd, assertIncludes, assertRuntimeUsed, runtimeEvidence } from '../lib/interop/expect.ts';
import { cleanEnv, interopRuntime, waitFor } from '../lib/interop/harness.ts';
import { SIZE_WHEN_SET, TmuxSession } from '../lib/interop/tmux-session.ts';

const rt = interopRuntime();
const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

describe(`interop: dockerd 20.10 with ${rt.name} as --runtime ${DOCKER_RUNTIME_NAME}`, () => {
  let peer: DockerdPeer;
  before(async () => {
    peer = await DockerdPeer.start(rt);
    await peer.loadBusybox(BUSYBOX_REF);
  });
  after(async () => {
    const notes = peer ? await peer.stop() : [];
    if (notes.length > 0) console.log(`dockerd cleanup:\n  ${notes.join('\n  ')}`);
  });

  it('docker run --runtime berth --rm prints from the container', () => {
    const r = assertCmd(
      peer.docker([
        'run',
        '--runtime',
        DOCKER_RUNTIME_NAME,
        '--rm',
        '--network',
        'none',
        '--hostname',
        'berthbox',
        BUSYBOX_REF,
        'sh',
        '-c',
        'echo hi from $(hostname); echo pid=$$',
      ]),
      'docker run --rm',
      peer.root,
    );
    assertIncludes(r.stdout, 'hi from berthbox', 'docker run output', peer.root);
    assert.match(r.stdout, /^pid=1$/m, 'the process is pid 1 of its own pid namespace');
    assertRuntimeUsed(peer.root, 'create');
    assert.equal(peer.docker(['ps', '-aq']).stdout.trim(), '', '--rm removed the container');
  });

  it('docker run -d, exec, logs, stop, rm', async () => {
    const name = 'berth-detached';
    const script = 'echo started; trap "echo got TERM; exit 0" TERM; while :; do sleep 0.2; done';
    const run = assertCmd(
      peer.docker([
        'run',
        '-d',
        '--runtime',
        DOCKER_RUNTIME_NAME,
        '--network',
        'none',
        '--name',
        name,
        BUSYBOX_REF,
        'sh',
        '-c',
        script,
      ]),
      'docker run -d',
      peer.root,
    );
    const id = run.stdout.trim();
    assert.match(id, /^[0-9a-f]{64}$/, `docker run -d prints the container id: ${run.stdout}`);
    await waitFor(
      'the container to be running',
      () => peer.docker(['inspect', '--format', '{{.State.Status}}', name]).stdout.trim(),
      (s) => s === 'running',
    );

    const ex = assertCmd(
      peer.docker(['exec', name, 'sh', '-c', 'echo in=$(cat /proc/1/comm); id -u']),
      'docker exec',
      peer.root,
    );
    assertIncludes(ex.stdout, 'in=sh', 'exec joins the container pid namespace', peer.root);
    assert.match(ex.stdout, /^0$/m);
    assertRuntimeUsed(peer.root, 'exec');
    const code = peer.docker(['exec', name, 'sh', '-c', 'exit 5']);
    assert.equal(code.status, 5, `exec exit status propagates: ${code.stderr}`);

    await waitFor(
      'the container log to show "started"',
      () => peer.docker(['logs', name]).stdout,
      (s) => s.includes('started'),
    );

    assertCmd(peer.docker(['stop', '-t', '10', name]), 'docker stop', peer.root);
    const state = peer.docker(['inspect', '--format', '{{.State.Status}} {{.State.ExitCode}}', name]).stdout.trim();
    assert.equal(state, 'exited 0', 'the container trapped SIGTERM and exited 0 (stop delivered SIGTERM, not SIGKILL)');
    assertIncludes(peer.docker(['logs', name]).stdout, 'got TERM', 'docker logs after stop', peer.root);
    assertRuntimeUsed(peer.root, 'kill');

    assertCmd(peer.docker(['rm', name]), 'docker rm', peer.root);
    assert.equal(peer.docker(['ps', '-aq']).stdout.trim(), '', 'no container left');
  });
  it('docker run -it: an interactive shell in a real terminal', async () => {
    const tmux = new TmuxSession(peer.root.dir);
    try {
      const line = [
        DOCKER,
        '-H',
        `unix://${peer.socket}`,
        'run',
        '-it',
        '--rm',
        '--runtime',
        DOCKER_RUNTIME_NAME,
        '--network',
        'none',
        BUSYBOX_REF,
        'sh',
      ]
        .map(quote)
        .join(' ');
      tmux.start(`DOCKER_CONFIG=${quote(peer.root.path('client', true))} ${line}`, cleanEnv());
      await tmux.waitScreen('the container shell prompt', (s) => /\/ # ?$/m.test(s) || tmux.exitStatus() !== undefined);
      assert.equal(
        tmux.exitStatus(),
        undefined,
        `docker run -it exited early:\n${tmux.screen()}\n${runtimeEvidence(peer.root)}`,
      );
      tmux.type('echo answer=$((6*7)); tty; ' + SIZE_WHEN_SET);
      const screen = await tmux.waitScreen('the command output', (s) => /answer=42/.test(s) && /^\d+ \d+\s*$/m.test(s));
      assert.match(screen, /^\/dev\/(pts\/\d+|console)\s*$/m, 'stdin is a terminal in the container');
      assert.match(screen, /^40 160\s*$/m, 'the container terminal has the size of the tmux pane');
      tmux.type('exit 3');
      const status = await waitFor(
        'docker run -it to exit',
        () => tmux.exitStatus(),
        (s) => s !== undefined,
      );
      assert.equal(
        status,
        3,
        `docker run -it exits with the shell's status (got ${status})\n${tmux.screen()}\n${runtimeEvidence(peer.root)}`,
      );
      assert.equal(peer.docker(['ps', '-aq']).stdout.trim(), '', '--rm removed the container');
    } finally {
      tmux.kill();
    }
  });

  it('docker run --memory --pids-limit: the limits reach the container cgroup', () => {
    const r = assertCmd(
      peer.docker([
        'run',
        '--rm',
        '--runtime',
        DOCKER_RUNTIME_NAME,
        '--network',
        'none',
        '--memory',
        '64m',
        '--pids-limit',
        '77',
        BUSYBOX_REF,
        'sh',
        '-c',
        'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max',
      ]),
      'docker run with limits',
      peer.root,
    );
    assert.deepEqual(
      r.stdout.trim().split(/\s+/),
      [String(64 * 1024 * 1024), '77'],
      `limits seen in the container: ${r.stdout}\n${runtimeEvidence(peer.root)}`,
    );
  });
});
