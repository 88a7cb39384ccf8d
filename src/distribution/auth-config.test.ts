import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ErrorCode, isBerthError } from '../errors/errors.ts';
import { getCredentials, login, logout } from './auth-config.ts';
import { parseWwwAuthenticate } from './www-authenticate.ts';

describe('docker config.json credentials', () => {
  it('logs in (mode 0600, other fields kept), reads back, logs out', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'berth-auth-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const path = join(dir, 'config.json');
    await writeFile(
      path,
      JSON.stringify({
        auths: { 'https://index.docker.io/v1/': { auth: Buffer.from('hub:secret').toString('base64') } },
        credsStore: 'x',
      }),
    );
    await login('localhost:5000', { username: 'u', password: 'p:w' }, { configPath: path });
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    const cfg = JSON.parse(await readFile(path, 'utf8'));
    assert.equal(cfg.credsStore, 'x');
    assert.equal(cfg.auths['localhost:5000'].auth, Buffer.from('u:p:w').toString('base64'));
    assert.deepEqual(await getCredentials('localhost:5000', path), { username: 'u', password: 'p:w' });
    assert.deepEqual(await getCredentials('docker.io', path), { username: 'hub', password: 'secret' });
    assert.equal(await getCredentials('other:1', path), undefined);
    await logout('localhost:5000', { configPath: path });
    assert.equal(await getCredentials('localhost:5000', path), undefined);
    await assert.rejects(logout('localhost:5000', { configPath: path }), (e: unknown) =>
      isBerthError(e, ErrorCode.NotFound),
    );
  });

  it('does not store credentials that fail verification', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'berth-auth-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const path = join(dir, 'config.json');
    await assert.rejects(
      login(
        'r:1',
        { username: 'u', password: 'bad' },
        {
          configPath: path,
          verify: async () => {
            throw new Error('denied');
          },
        },
      ),
      /denied/,
    );
    assert.equal(await getCredentials('r:1', path), undefined);
  });
});

describe('WWW-Authenticate', () => {
  it('parses bearer and basic challenges', () => {
    assert.deepEqual(
      parseWwwAuthenticate(
        'Bearer realm="https://auth.example/token",service="registry",scope="repository:a/b:pull,push"',
      ),
      [
        {
          scheme: 'bearer',
          params: { realm: 'https://auth.example/token', service: 'registry', scope: 'repository:a/b:pull,push' },
        },
      ],
    );
    assert.deepEqual(parseWwwAuthenticate('Basic realm="Registry Realm"'), [
      { scheme: 'basic', params: { realm: 'Registry Realm' } },
    ]);
    assert.deepEqual(
      parseWwwAuthenticate('Basic realm=x, Bearer realm="y"').map((c) => c.scheme),
      ['basic', 'bearer'],
    );
  });
});
