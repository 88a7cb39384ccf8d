// A private containerd (Debian's 1.6) for one test: root, state, sockets and the opt plugin's dir
// under an InteropRoot, the CRI plugin disabled (no CNI), and `ctr` bound to it. Containers run
// through the runc v2 shim with `--runc-binary` set to the runtime under test; the ctr namespace is
// the root's berth cgroup name, so every container's cgroup (/<ns>/<id>) is one we may remove.
// The shim's sockets go to /run/containerd/s (fixed in containerd 1.6; named by a hash of our
// address), which the shim removes as it exits; the directories, if we made them, are removed again.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeBusyboxArchive } from './busybox-archive.ts';
import { assertCmd } from './expect.ts';
import { type CmdResult, cmd, InteropRoot, type InteropRuntime, isSocket, MachineDirs, need } from './harness.ts';

const CONTAINERD = '/usr/bin/containerd';
export const CTR = '/usr/bin/ctr';
const SHIM_RUN_DIR = '/run/containerd';

export class ContainerdPeer {
  readonly root: InteropRoot;
  readonly address: string;
  readonly namespace: string;
  private dirs: MachineDirs | undefined;

  private constructor(root: InteropRoot) {
    this.root = root;
    this.address = join(root.dir, 'containerd.sock');
    this.namespace = root.cgroupParent;
  }

  static async start(rt: InteropRuntime): Promise<ContainerdPeer> {
    need(CONTAINERD, 'containerd');
    need(CTR, 'containerd');
    need('/usr/bin/containerd-shim-runc-v2', 'containerd');
    const peer = new ContainerdPeer(new InteropRoot('ctrd', rt));
    peer.dirs = new MachineDirs([join(SHIM_RUN_DIR, 's'), join(SHIM_RUN_DIR, 'fifo'), SHIM_RUN_DIR]);
    const r = peer.root;
    const config = [
      'version = 2',
      `root = "${r.path('root', true)}"`,
      `state = "${r.path('state', true)}"`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]',
      '[grpc]',
      `  address = "${peer.address}"`,
      '[ttrpc]',
      `  address = "${peer.address}.ttrpc"`,
      '[debug]',
      '  address = ""',
      '  level = "debug"',
      '[metrics]',
      '  address = ""',
      '[plugins]',
      '  [plugins."io.containerd.internal.v1.opt"]',
      `    path = "${r.path('opt', true)}"`,
      '',
    ].join('\n');
    const cfg = r.path('config.toml');
    writeFileSync(cfg, config);
    const child = r.startDaemon('containerd', CONTAINERD, ['--config', cfg]);
    try {
      await r.waitReady('containerd', child, () => isSocket(peer.address));
    } catch (err) {
      // The caller never gets the peer to stop: leave nothing running or mounted ourselves.
      await peer.stop();
      throw err;
    }
    return peer;
  }

  ctr(args: string[], timeoutMs = 60_000): CmdResult {
    return cmd(CTR, ['--address', this.address, '--namespace', this.namespace, ...args], { timeoutMs });
  }

  /** Imports the busybox docker-archive (unpacked for the default overlayfs snapshotter). */
  async importBusybox(ref: string): Promise<void> {
    const archive = this.root.path('busybox.tar');
    await writeBusyboxArchive(archive);
    assertCmd(this.ctr(['images', 'import', archive]), 'ctr images import', this.root);
    const ls = assertCmd(this.ctr(['images', 'ls', '-q']), 'ctr images ls', this.root);
    if (!ls.stdout.split('\n').includes(ref))
      throw new Error(`ctr images import did not name ${ref}; images: ${ls.stdout}`);
  }

  /** ctr's stdio FIFOs go under our root, not /run/containerd/fifo (for `run` and `tasks exec`). */
  fifoFlags(): string[] {
    return ['--fifo-dir', this.root.path('fifo', true)];
  }

  /** The flags that make `ctr run` use the runtime under test through the runc v2 shim. */
  runtimeFlags(): string[] {
    return [
      ...this.fifoFlags(),
      '--runtime',
      'io.containerd.runc.v2',
      '--runc-binary',
      this.root.runtimePath,
      '--runc-root',
      this.root.path('runc-root', true),
    ];
  }

  /** Tasks, containers and images removed through containerd; then the daemon and everything else. */
  async stop(): Promise<string[]> {
    const notes: string[] = [];
    try {
      if (isSocket(this.address)) {
        const tasks = this.ctr(['tasks', 'ls', '-q'], 20_000)
          .stdout.split('\n')
          .filter((s) => s.trim() !== '');
        for (const t of tasks) {
          notes.push(`task ${t} was left running`);
          this.ctr(['tasks', 'kill', '-s', 'SIGKILL', t], 20_000);
          this.ctr(['tasks', 'delete', '-f', t], 20_000);
        }
        for (const c of this.ctr(['containers', 'ls', '-q'], 20_000)
          .stdout.split('\n')
          .filter((s) => s.trim() !== '')) {
          notes.push(`container ${c} was left`);
          this.ctr(['containers', 'delete', c], 20_000);
        }
      }
    } catch (err) {
      notes.push(`ctr cleanup: ${(err as Error).message}`);
    }
    notes.push(...(await this.root.cleanup()));
    this.dirs?.release();
    return notes;
  }
}
