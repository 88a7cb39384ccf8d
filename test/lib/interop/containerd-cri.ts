// Debian's containerd 1.6 with its CRI plugin, the oracle the CRI suite can run against
// (BERTH_TEST_CRI=containerd): root, state, socket, CNI configuration and network namespaces under an
// InteropRoot; a bridge and subnet of its own; runc as the runtime; `restrict_oom_score_adj = true`
// (this host's daemons lack CAP_SYS_RESOURCE's use, as berthd's); the sandbox image is berth's own
// pause binary packaged as an image and imported, so nothing is pulled. The suite passes the root's
// cgroup name as every pod's cgroup_parent: without one containerd would use /k8s.io, not ours.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CriClient } from '../cri-client.ts';
import { BUSYBOX_REF, writeBusyboxArchive, writeDockerArchive } from './busybox-archive.ts';
import { assertCmd } from './expect.ts';
import { cmd, InteropRoot, isSocket, MachineDirs, need, REPO_ROOT, RUNC } from './harness.ts';
import { CTR } from './containerd.ts';
import { tarOf } from '../test-images.ts';

const CONTAINERD = '/usr/bin/containerd';
const CNI_BIN = '/usr/lib/cni';
const PAUSE = join(REPO_ROOT, 'native/build/berth-pause');
const PAUSE_REF = 'localhost/berth-pause:oracle';
// The CRI plugin's namespace: images must be there for the CRI to see them.
const NS = 'k8s.io';

export class ContainerdCri {
  readonly root: InteropRoot;
  readonly socket: string;
  readonly bridge: string;
  private dirs: MachineDirs | undefined;

  private constructor(root: InteropRoot) {
    this.root = root;
    this.socket = join(root.dir, 'containerd.sock');
    this.bridge = `bor${randomBytes(3).toString('hex')}`;
  }

  /** The cgroup every pod of the suite goes under (as cgroup_parent); removed at stop(). */
  get cgroupParent(): string {
    return `/${this.root.cgroupParent}`;
  }

  /** Starts containerd with the CRI plugin and imports the pause image and `busyboxAs` (busybox). */
  static async start(busyboxAs: string): Promise<ContainerdCri> {
    need(CONTAINERD, 'containerd');
    need(CTR, 'containerd');
    need(`${CNI_BIN}/bridge`, 'containernetworking-plugins');
    if (!existsSync(PAUSE)) throw new Error(`${PAUSE} is missing: run scripts/build.sh`);
    const c = new ContainerdCri(new InteropRoot('ccri', { name: 'runc', binary: RUNC }));
    c.dirs = new MachineDirs([join('/run/containerd', 's'), join('/run/containerd', 'fifo'), '/run/containerd']);
    const r = c.root;
    // A /24 picked from 10.213.0.0/16 by the random bridge name: another run's at once is unlikely to match.
    const subnet = `10.213.${Number.parseInt(c.bridge.slice(3, 5), 16)}.0/24`;
    const cniDir = r.path('cni', true);
    writeFileSync(
      join(cniDir, '10-oracle.conflist'),
      JSON.stringify({
        cniVersion: '0.4.0',
        name: `oracle-${c.bridge}`,
        plugins: [
          {
            type: 'bridge',
            bridge: c.bridge,
            isGateway: true,
            ipMasq: true,
            ipam: { type: 'host-local', ranges: [[{ subnet }]], routes: [{ dst: '0.0.0.0/0' }] },
          },
          { type: 'portmap', capabilities: { portMappings: true } },
        ],
      }),
    );
    const P = '[plugins."io.containerd.grpc.v1.cri"';
    const config = [
      'version = 2',
      `root = "${r.path('root', true)}"`,
      `state = "${r.path('state', true)}"`,
      'disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]',
      '[grpc]',
      `  address = "${c.socket}"`,
      '[ttrpc]',
      `  address = "${c.socket}.ttrpc"`,
      '[debug]',
      '  address = ""',
      '[metrics]',
      '  address = ""',
      '[plugins]',
      '  [plugins."io.containerd.internal.v1.opt"]',
      `    path = "${r.path('opt', true)}"`,
      '  [plugins."io.containerd.grpc.v1.cri"]',
      `    sandbox_image = "${PAUSE_REF}"`,
      '    restrict_oom_score_adj = true',
      '    netns_mounts_under_state_dir = true',
      '    stream_server_address = "127.0.0.1"',
      '    stream_server_port = "0"',
      `    ${P}.containerd]`,
      '      default_runtime_name = "runc"',
      '      snapshotter = "overlayfs"',
      `      ${P}.containerd.runtimes.runc]`,
      '        runtime_type = "io.containerd.runc.v2"',
      `        ${P}.containerd.runtimes.runc.options]`,
      `          BinaryName = "${RUNC}"`,
      `          Root = "${r.path('runc-root', true)}"`,
      '          SystemdCgroup = false',
      `    ${P}.cni]`,
      `      bin_dir = "${CNI_BIN}"`,
      `      conf_dir = "${cniDir}"`,
      '',
    ].join('\n');
    const cfg = r.path('config.toml');
    writeFileSync(cfg, config);
    const child = r.startDaemon('containerd', CONTAINERD, ['--config', cfg]);
    try {
      await r.waitReady('containerd', child, () => isSocket(c.socket));
      const pause = r.path('pause.tar');
      await writeDockerArchive(
        pause,
        PAUSE_REF,
        await tarOf([{ name: 'pause', data: readFileSync(PAUSE), mode: 0o755 }]),
        { Entrypoint: ['/pause'], User: '65535:65535' },
      );
      assertCmd(c.ctr(['images', 'import', pause]), 'ctr images import (pause)', r);
      const busybox = r.path('busybox.tar');
      await writeBusyboxArchive(busybox);
      assertCmd(c.ctr(['images', 'import', busybox]), 'ctr images import (busybox)', r);
      assertCmd(c.ctr(['images', 'tag', BUSYBOX_REF, busyboxAs]), 'ctr images tag', r);
    } catch (err) {
      await c.stop();
      throw err;
    }
    return c;
  }

  ctr(args: string[]) {
    return cmd(CTR, ['--address', this.socket, '--namespace', NS, ...args], { timeoutMs: 60_000 });
  }

  /** Pods removed through the CRI (their netns, CNI attachments and iptables rules with them), then the daemon and everything else. */
  async stop(): Promise<string[]> {
    const notes: string[] = [];
    if (isSocket(this.socket)) {
      const cri = new CriClient(this.socket);
      try {
        for (const p of (await cri.runtime.ListPodSandbox!({})).items) {
          notes.push(`pod ${p.id} was left`);
          await cri.runtime.StopPodSandbox!({ pod_sandbox_id: p.id }).catch((e: Error) =>
            notes.push(`StopPodSandbox ${p.id}: ${e.message}`),
          );
          await cri.runtime.RemovePodSandbox!({ pod_sandbox_id: p.id }).catch((e: Error) =>
            notes.push(`RemovePodSandbox ${p.id}: ${e.message}`),
          );
        }
      } catch (err) {
        notes.push(`CRI cleanup: ${(err as Error).message}`);
      } finally {
        cri.close();
      }
    }
    notes.push(...(await this.root.cleanup()));
    if (existsSync(`/sys/class/net/${this.bridge}`)) {
      const r = cmd('ip', ['link', 'del', this.bridge]);
      if (r.status !== 0) notes.push(`ip link del ${this.bridge}: ${r.stderr.trim()}`);
    }
    this.dirs?.release();
    return notes;
  }
}
