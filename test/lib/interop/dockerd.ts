// A private dockerd (Debian's docker.io 20.10) for one test, configured only by a daemon.json under
// an InteropRoot (never /etc/docker/daemon.json): data-root, exec-root, pidfile, its unix socket,
// its trust key, no bridge, no iptables, the cgroupfs driver with a berth-named cgroup parent, and
// the runtime under test added as the runtime "berth". dockerd starts (and stops) its own managed
// containerd under the exec-root. The docker CLI used is Debian's /usr/bin/docker, bound with -H.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeBusyboxArchive } from './busybox-archive.ts';
import { assertCmd } from './expect.ts';
import {
  type CmdResult,
  cleanEnv,
  cmd,
  InteropRoot,
  type InteropRuntime,
  isSocket,
  MachineDirs,
  need,
} from './harness.ts';

const DOCKERD = '/usr/sbin/dockerd';
// Debian's client; /usr/local/bin may hold another one, of another version.
export const DOCKER = '/usr/bin/docker';
const SHIM_RUN_DIR = '/run/containerd';
// dockerd makes /run/docker/plugins (legacy plugin discovery) whatever its exec-root.
const PLUGIN_RUN_DIR = '/run/docker';

export const DOCKER_RUNTIME_NAME = 'berth';

export class DockerdPeer {
  readonly root: InteropRoot;
  readonly socket: string;
  private dirs: MachineDirs | undefined;

  private constructor(root: InteropRoot) {
    this.root = root;
    this.socket = join(root.dir, 'docker.sock');
  }

  static async start(rt: InteropRuntime): Promise<DockerdPeer> {
    need(DOCKERD, 'docker.io');
    need(DOCKER, 'docker.io');
    const peer = new DockerdPeer(new InteropRoot('dockerd', rt));
    peer.dirs = new MachineDirs([
      join(SHIM_RUN_DIR, 's'),
      join(SHIM_RUN_DIR, 'fifo'),
      SHIM_RUN_DIR,
      join(PLUGIN_RUN_DIR, 'plugins'),
      PLUGIN_RUN_DIR,
    ]);
    const r = peer.root;
    const config = {
      'data-root': r.path('data', true),
      'exec-root': r.path('exec', true),
      pidfile: r.path('dockerd.pid'),
      hosts: [`unix://${peer.socket}`],
      'deprecated-key-path': r.path('key.json'),
      bridge: 'none',
      iptables: false,
      ip6tables: false,
      'ip-masq': false,
      'ip-forward': false,
      'userland-proxy': false,
      'storage-driver': 'overlay2',
      'exec-opts': ['native.cgroupdriver=cgroupfs'],
      'cgroup-parent': `/${r.cgroupParent}`,
      // No CAP_SYS_RESOURCE here, and the hard RLIMIT_NOFILE is 20000: docker's default would not fit.
      'default-ulimits': { nofile: { Name: 'nofile', Soft: 4096, Hard: 4096 } },
      runtimes: { [DOCKER_RUNTIME_NAME]: { path: r.runtimePath } },
      'log-level': 'debug',
    };
    const cfg = r.path('daemon.json');
    writeFileSync(cfg, JSON.stringify(config, null, 2));
    const child = r.startDaemon(
      'dockerd',
      DOCKERD,
      ['--config-file', cfg],
      cleanEnv({ DOCKER_CONFIG: r.path('client', true) }),
    );
    try {
      await r.waitReady(
        'dockerd',
        child,
        () => isSocket(peer.socket) && peer.docker(['version', '--format', '{{.Server.Version}}'], 10_000).status === 0,
        60_000,
      );
    } catch (err) {
      // The caller never gets the peer to stop: leave nothing running or mounted ourselves.
      await peer.stop();
      throw err;
    }
    return peer;
  }

  docker(args: string[], timeoutMs = 60_000): CmdResult {
    return cmd(DOCKER, ['-H', `unix://${this.socket}`, ...args], {
      timeoutMs,
      env: cleanEnv({ DOCKER_CONFIG: this.root.path('client', true) }),
    });
  }

  /** `docker load` of the busybox docker-archive. */
  async loadBusybox(ref: string): Promise<void> {
    const archive = this.root.path('busybox.tar');
    await writeBusyboxArchive(archive);
    assertCmd(this.docker(['load', '-i', archive]), 'docker load', this.root);
    assertCmd(this.docker(['image', 'inspect', ref]), `docker image inspect ${ref}`, this.root);
  }

  /** Containers removed through dockerd; then the daemon (and its containerd) and everything else. */
  async stop(): Promise<string[]> {
    const notes: string[] = [];
    try {
      if (isSocket(this.socket)) {
        const ids = this.docker(['ps', '-aq'], 20_000)
          .stdout.split('\n')
          .filter((s) => s.trim() !== '');
        for (const id of ids) {
          notes.push(`container ${id} was left`);
          this.docker(['rm', '-f', id], 30_000);
        }
      }
    } catch (err) {
      notes.push(`docker cleanup: ${(err as Error).message}`);
    }
    notes.push(...(await this.root.cleanup()));
    this.dirs?.release();
    return notes;
  }
}
