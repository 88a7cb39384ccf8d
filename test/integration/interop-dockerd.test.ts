// dockerd (Debian's docker.io 20.10) with the runtime under test added as the runtime "berth":
// `docker run --runtime berth --rm` that prints, and a detached container with exec, logs, stop
// (a graceful SIGTERM the container traps) and rm. Each test run starts its own dockerd under a
// temp root and leaves nothing behind. BERTH_INTEROP_RUNTIME=runc|berth (default berth).
// Needs root. Fails loudly when docker.io is missing.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BUSYBOX_REF } from '../lib/interop/busybox-archive.ts';
import { DOCKER_RUNTIME_NAME, DockerdPeer } from '../lib/interop/dockerd.ts';
import { assertCmd, assertIncludes, assertRuntimeUsed } from '../lib/interop/expect.ts';
import { interopRuntime, waitFor } from '../lib/interop/harness.ts';

const rt = interopRuntime();

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
      peer.docker(['run', '--runtime', DOCKER_RUNTIME_NAME, '--rm', '--network', 'none', '--hostname', 'berthbox', BUSYBOX_REF, 'sh', '-c', 'echo hi from $(hostname); echo pid=$$']),
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
    const run = assertCmd(peer.docker(['run', '-d', '--runtime', DOCKER_RUNTIME_NAME, '--network', 'none', '--name', name, BUSYBOX_REF, 'sh', '-c', script]), 'docker run -d', peer.root);
    const id = run.stdout.trim();
    assert.match(id, /^[0-9a-f]{64}$/, `docker run -d prints the container id: ${run.stdout}`);
    await waitFor(
      'the container to be running',
      () => peer.docker(['inspect', '--format', '{{.State.Status}}', name]).stdout.trim(),
      (s) => s === 'running',
    );

    const ex = assertCmd(peer.docker(['exec', name, 'sh', '-c', 'echo in=$(cat /proc/1/comm); id -u']), 'docker exec', peer.root);
    assertIncludes(ex.stdout, 'in=sh', 'exec joins the container pid namespace', peer.root);
    assert.match(ex.stdout, /^0$/m);
    assertRuntimeUsed(peer.root, 'exec');
    const code = peer.docker(['exec', name, 'sh', '-c', 'exit 5']);
    assert.equal(code.status, 5, `exec exit status propagates: ${code.stderr}`);

    await waitFor('the container log to show "started"', () => peer.docker(['logs', name]).stdout, (s) => s.includes('started'));

    assertCmd(peer.docker(['stop', '-t', '10', name]), 'docker stop', peer.root);
    const state = peer.docker(['inspect', '--format', '{{.State.Status}} {{.State.ExitCode}}', name]).stdout.trim();
    assert.equal(state, 'exited 0', 'the container trapped SIGTERM and exited 0 (stop delivered SIGTERM, not SIGKILL)');
    assertIncludes(peer.docker(['logs', name]).stdout, 'got TERM', 'docker logs after stop', peer.root);
    assertRuntimeUsed(peer.root, 'kill');

    assertCmd(peer.docker(['rm', name]), 'docker rm', peer.root);
    assert.equal(peer.docker(['ps', '-aq']).stdout.trim(), '', 'no container left');
  });
});
