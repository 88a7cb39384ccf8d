import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ErrorCode, isBerthError } from '../errors/errors.ts';
import { ImageService, isLoopbackHost, normalizeRegistry } from './image-service.ts';

const temps: string[] = [];
async function temp(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'berth-svc-'));
  temps.push(d);
  return d;
}
after(async () => {
  for (const t of temps) await rm(t, { recursive: true, force: true });
});

describe('ImageService.open', () => {
  it('falls back to the copying snapshotter when overlayfs cannot be mounted, says so, and keeps that choice', async () => {
    const root = await temp();
    const notices: string[] = [];
    const s = await ImageService.open({
      root,
      overlayProbe: async () => 'mount: overlay: No such device',
      onNotice: (m) => notices.push(m),
    });
    assert.equal(s.snapshotterName, 'native');
    await s.close();
    assert.equal(notices.length, 1);
    assert.match(
      notices[0]!,
      /overlayfs cannot be mounted under .*snapshots \(mount: overlay: No such device\); using the copying snapshotter/,
    );
    let probed = false;
    const again = await ImageService.open({
      root,
      overlayProbe: async () => {
        probed = true;
        return undefined;
      },
    });
    assert.equal(again.snapshotterName, 'native', 'a root keeps the snapshotter its snapshots live in');
    assert.equal(probed, false);
    await again.close();
    const fresh = await ImageService.open({ root: await temp(), overlayProbe: async () => undefined });
    assert.equal(fresh.snapshotterName, 'overlay');
    await fresh.close();
  });

  it('reads registries.json (mirrors, insecure, ca as PEM or file) and refuses malformed entries by name', async () => {
    const root = await temp();
    await writeFile(join(root, 'ca.pem'), '-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n');
    await writeFile(
      join(root, 'registries.json'),
      JSON.stringify({ 'reg.example:5000': { mirrors: ['http://127.0.0.1:1'], insecure: false, ca: 'ca.pem' } }),
    );
    const s = await ImageService.open({ root, overlayProbe: async () => undefined });
    assert.deepEqual(s.registries['reg.example:5000']?.mirrors, ['http://127.0.0.1:1']);
    assert.match(s.registries['reg.example:5000']?.ca ?? '', /BEGIN CERTIFICATE/);
    await s.close();
    await writeFile(join(root, 'registries.json'), JSON.stringify({ 'reg.example': { insecure: 'yes' } }));
    await assert.rejects(
      ImageService.open({ root }),
      (e: unknown) =>
        isBerthError(e, ErrorCode.InvalidArgument) &&
        /registries\.json: "reg\.example"\.insecure: expected true or false/.test(e.message),
    );
  });

  it('names registries and loopback hosts as docker does', () => {
    assert.equal(normalizeRegistry('https://index.docker.io/v1/'), 'docker.io');
    assert.equal(normalizeRegistry('127.0.0.1:5000'), '127.0.0.1:5000');
    assert.throws(() => normalizeRegistry('bad host'), /expected host\[:port\]/);
    assert.equal(isLoopbackHost('127.0.0.1:5000'), true);
    assert.equal(isLoopbackHost('localhost'), true);
    assert.equal(isLoopbackHost('[::1]:5000'), true);
    assert.equal(isLoopbackHost('10.0.0.1:5000'), false);
  });
});
