// A busybox image as a docker-archive (the `docker save` layout: manifest.json, the config JSON and
// <id>/layer.tar), built from Debian's busybox-static with nothing downloaded. One archive serves
// every peer: `podman load`, `ctr image import` and `docker load` all read this layout.
// The layer holds busybox with a symlink per applet (so `sleep`, `cat`, `id` are on PATH) and the
// files a shell session expects (/etc/passwd, /etc/group, /tmp).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { type TarEntry, tarOf } from '../test-images.ts';
import { need } from './harness.ts';

/** The name every peer knows the image by (a registry-qualified name, so no peer adds docker.io/). */
export const BUSYBOX_REF = 'localhost/berth-busybox:interop';

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

export async function busyboxLayer(): Promise<Buffer> {
  need('/bin/busybox', 'busybox-static');
  const applets = execFileSync('/bin/busybox', ['--list'], { encoding: 'utf8' })
    .split('\n')
    .map((s) => s.trim())
    .filter((s) => s !== '' && s !== 'busybox' && !s.includes('/'));
  const entries: TarEntry[] = [
    { name: 'bin/' },
    { name: 'bin/busybox', data: readFileSync('/bin/busybox'), mode: 0o755 },
    ...applets.map((a) => ({ name: `bin/${a}`, linkname: 'busybox' })),
    { name: 'etc/' },
    {
      name: 'etc/passwd',
      data: Buffer.from('root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n'),
    },
    { name: 'etc/group', data: Buffer.from('root:x:0:\nnogroup:x:65534:\n') },
    { name: 'root/', mode: 0o700 },
    { name: 'tmp/', mode: 0o1777 },
  ];
  return tarOf(entries);
}

/** Writes the docker-archive of the busybox image to `path`; returns its config digest. */
export async function writeBusyboxArchive(path: string): Promise<{ configDigest: string }> {
  return writeDockerArchive(path, BUSYBOX_REF, await busyboxLayer(), {
    Cmd: ['/bin/sh'],
    Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
    WorkingDir: '/',
  });
}

/** Writes a one-layer image named `ref` as a docker-archive to `path`; returns its config digest. */
export async function writeDockerArchive(
  path: string,
  ref: string,
  layer: Buffer,
  imageConfig: Record<string, unknown>,
): Promise<{ configDigest: string }> {
  const diffId = `sha256:${sha256(layer)}`;
  const config = JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    created: '1970-01-01T00:00:00Z',
    config: imageConfig,
    rootfs: { type: 'layers', diff_ids: [diffId] },
    history: [{ created: '1970-01-01T00:00:00Z', created_by: `berth test image ${ref}` }],
  });
  const configHex = sha256(config);
  const layerDir = sha256(layer);
  const manifest = JSON.stringify([
    { Config: `${configHex}.json`, RepoTags: [ref], Layers: [`${layerDir}/layer.tar`] },
  ]);
  const [repo, tag] = [ref.slice(0, ref.lastIndexOf(':')), ref.slice(ref.lastIndexOf(':') + 1)];
  const repositories = JSON.stringify({ [repo]: { [tag]: layerDir } });
  const archive = await tarOf([
    { name: `${layerDir}/` },
    { name: `${layerDir}/layer.tar`, data: layer },
    { name: `${layerDir}/VERSION`, data: Buffer.from('1.0') },
    { name: `${configHex}.json`, data: Buffer.from(config) },
    { name: 'manifest.json', data: Buffer.from(manifest) },
    { name: 'repositories', data: Buffer.from(repositories) },
  ]);
  writeFileSync(path, archive);
  return { configDigest: `sha256:${configHex}` };
}
