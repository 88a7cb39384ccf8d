// Podman (Debian's 4.3) for one test, with no daemon and no systemd: its own containers.conf and
// storage.conf under an InteropRoot (the machine's /etc/containers is never read), and every call
// given --root, --runroot, --tmpdir, the cgroupfs manager, the file events backend and the runtime
// under test by path. Containers get no network (no netavark/CNI state) and run under a
// berth-named cgroup parent; conmon is the one Debian ships.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeBusyboxArchive } from './busybox-archive.ts';
import { assertCmd } from './expect.ts';
import { type CmdResult, cleanEnv, cmd, InteropRoot, type InteropRuntime, MachineDirs, need } from './harness.ts';

export const PODMAN = '/usr/bin/podman';
const DEFAULT_STATE_ROOT = { runc: '/run/runc', berth: '/run/berth-runtime' } as const;

export class PodmanPeer {
  readonly root: InteropRoot;
  private dirs: MachineDirs | undefined;

  private constructor(root: InteropRoot) {
    this.root = root;
  }

  static async start(rt: InteropRuntime): Promise<PodmanPeer> {
    need(PODMAN, 'podman');
    need('/usr/bin/conmon', 'conmon');
    const peer = new PodmanPeer(new InteropRoot('podman', rt));
    // As root, podman gives the runtime no --root, so its state is in the runtime's default root
    // (`--runtime-flag root=` is not passed on to the exit command's `container cleanup`, whose
    // `delete` would then look elsewhere). netavark's run dir, should any podman code path reach it.
    peer.dirs = new MachineDirs([DEFAULT_STATE_ROOT[rt.name], '/run/containers/networks', '/run/containers']);
    const r = peer.root;
    const containersConf = [
      '[containers]',
      // No CAP_SYS_RESOURCE here, and the hard RLIMIT_NOFILE is 20000: podman's defaults would not fit.
      'default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]',
      'netns = "none"',
      'log_driver = "k8s-file"',
      '[engine]',
      'cgroup_manager = "cgroupfs"',
      'events_logger = "file"',
      `events_logfile_path = "${r.path('events.log')}"`,
      `tmp_dir = "${r.path('libpod-tmp', true)}"`,
      `volume_path = "${r.path('volumes', true)}"`,
      `static_dir = "${r.path('storage/libpod', true)}"`,
      'conmon_path = ["/usr/bin/conmon"]',
      // podman names a runtime given by path after its basename; JSON logs only for names listed here.
      'runtime_supports_json = ["crun", "runc", "berth-runtime"]',
      '[network]',
      `network_config_dir = "${r.path('networks', true)}"`,
      // netavark keeps state in /run/containers/networks even for --network none; CNI keeps none.
      'network_backend = "cni"',
      '',
    ].join('\n');
    writeFileSync(r.path('containers.conf'), containersConf);
    const storageConf = [
      '[storage]',
      'driver = "overlay"',
      `graphroot = "${r.path('storage', true)}"`,
      `runroot = "${r.path('run', true)}"`,
      '',
    ].join('\n');
    writeFileSync(r.path('storage.conf'), storageConf);
    writeFileSync(r.path('registries.conf'), 'unqualified-search-registries = []\n');
    return peer;
  }

  env(): NodeJS.ProcessEnv {
    return cleanEnv({
      CONTAINERS_CONF: this.root.path('containers.conf'),
      CONTAINERS_STORAGE_CONF: this.root.path('storage.conf'),
      CONTAINERS_REGISTRIES_CONF: this.root.path('registries.conf'),
      XDG_CONFIG_HOME: this.root.path('xdg-config', true),
      XDG_DATA_HOME: this.root.path('xdg-data', true),
    });
  }

  /** podman's global flags: everything under our root, the runtime under test by path. */
  globalFlags(): string[] {
    const r = this.root;
    return [
      '--root',
      r.path('storage'),
      '--runroot',
      r.path('run'),
      '--tmpdir',
      r.path('libpod-tmp'),
      '--storage-driver',
      'overlay',
      '--cgroup-manager',
      'cgroupfs',
      '--events-backend',
      'file',
      '--network-config-dir',
      r.path('networks'),
      '--runtime',
      r.runtimePath,
    ];
  }

  /** Flags every `podman run` gets: a berth-named cgroup parent (conmon's cgroup goes under it too). */
  runFlags(): string[] {
    return ['--cgroup-parent', `/${this.root.cgroupParent}`];
  }

  podman(args: string[], timeoutMs = 60_000): CmdResult {
    return cmd(PODMAN, [...this.globalFlags(), ...args], { timeoutMs, env: this.env() });
  }

  /** `podman load` of the busybox docker-archive. */
  async loadBusybox(ref: string): Promise<void> {
    const archive = this.root.path('busybox.tar');
    await writeBusyboxArchive(archive);
    assertCmd(this.podman(['load', '-i', archive]), 'podman load', this.root);
    assertCmd(this.podman(['image', 'exists', ref]), `podman image exists ${ref}`, this.root);
  }

  /** The ids of the containers podman asked the runtime to create (the last argument of create). */
  createdIds(): string[] {
    return this.root
      .trace()
      .split('\n')
      .filter((l) => / create /.test(l))
      .map((l) => l.trim().split(' ').pop() ?? '')
      .filter((id) => /^[0-9a-f]{64}$/.test(id));
  }

  /** Containers removed through podman (conmon stops with them), then everything else. */
  async stop(): Promise<string[]> {
    const notes: string[] = [];
    try {
      const ids = this.podman(['ps', '-aq'], 20_000)
        .stdout.split('\n')
        .filter((s) => s.trim() !== '');
      for (const id of ids) {
        notes.push(`container ${id} was left`);
        this.podman(['rm', '-f', '-t', '0', id], 30_000);
      }
      this.podman(['rmi', '-a', '-f'], 60_000);
    } catch (err) {
      notes.push(`podman cleanup: ${(err as Error).message}`);
    }
    // A container podman lost track of (a test that failed half-way) may still have runtime state.
    for (const id of this.createdIds()) {
      if (existsSync(join(DEFAULT_STATE_ROOT[this.root.rt.name], id))) {
        notes.push(`runtime state of ${id} was left`);
        cmd(this.root.rt.binary, ['delete', '--force', id], { timeoutMs: 30_000 });
      }
    }
    notes.push(...(await this.root.cleanup()));
    this.dirs?.release();
    return notes;
  }
}
