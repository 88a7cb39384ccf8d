// The hostile-layer corpus (test/lib/hostile-layers.ts) against applyLayer, as root: each case is
// refused with the expected message or neutralised inside the root, and a canary next to the target
// and the host's /etc are untouched either way.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { applyLayer } from '../../src/archive/apply-layer.ts';
import { ErrorCode, isBerthError } from '../../src/errors/errors.ts';
import { buildTar, chunked, gzip, gzipBomb, hostileCorpus } from '../lib/hostile-layers.ts';

const HOST_FILES = ['/etc/passwd', '/etc/shadow', '/etc/hostname'];
const CANARY = 'canary: do not touch\n';

async function digestOf(path: string): Promise<string> {
  const st = await fs.lstat(path);
  const data = await fs.readFile(path);
  return `${st.mode}:${st.uid}:${st.gid}:${st.mtimeMs}:${createHash('sha256').update(data).digest('hex')}`;
}

if (process.getuid?.() !== 0) {
  test('unpack-hostile needs root', () => {
    assert.fail('test/integration/unpack-hostile.test.ts must run as root (device nodes, chown, trusted.* xattrs)');
  });
} else {
  describe('applyLayer rejects or neutralises hostile layers', () => {
    let base = '';
    const host = new Map<string, string>();
    before(async () => {
      base = await fs.mkdtemp(join(tmpdir(), 'berth-unpack-hostile-'));
      for (const f of HOST_FILES) host.set(f, await digestOf(f).catch(() => 'missing'));
    });
    after(async () => {
      await fs.rm(base, { recursive: true, force: true });
      for (const f of HOST_FILES)
        assert.equal(await digestOf(f).catch(() => 'missing'), host.get(f), `host file ${f} changed`);
    });

    let n = 0;
    for (const c of hostileCorpus()) {
      test(c.name, async () => {
        const caseDir = join(base, `case-${n++}`);
        const target = join(caseDir, 'target');
        await fs.mkdir(target, { recursive: true });
        await fs.writeFile(join(caseDir, 'canary'), CANARY);
        const canaryBefore = await digestOf(join(caseDir, 'canary'));
        const layer = gzip(await buildTar(c.entries));
        const context = `image test/hostile:1 layer ${c.name}`;
        const run = applyLayer(chunked(layer), {
          mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
          targetDir: target,
          format: c.format ?? 'overlay',
          context,
          ...(c.limits ? { limits: c.limits } : {}),
          ...(c.allowDevices === undefined ? {} : { allowDevices: c.allowDevices }),
          onWarning: () => {},
        });
        if (c.expect) {
          await assert.rejects(run, (e: unknown) => {
            assert.ok(isBerthError(e, ErrorCode.InvalidArgument), `expected InvalidArgument, got ${String(e)}`);
            assert.match(e.message, c.expect!);
            assert.ok(e.message.startsWith(`${context}: `), `message names the context: ${e.message}`);
            assert.match(e.message, /entry "/, 'message names the entry');
            return true;
          });
        } else {
          await run;
        }
        assert.equal(await digestOf(join(caseDir, 'canary')), canaryBefore, 'the canary next to the target changed');
        for (const f of HOST_FILES)
          assert.equal(await digestOf(f).catch(() => 'missing'), host.get(f), `host file ${f} changed`);
        // Nothing may appear next to the target except the canary.
        assert.deepEqual((await fs.readdir(caseDir)).sort(), ['canary', 'target']);
        if (c.neutralised) {
          // Every symlink stays a symlink; every regular file is inside the target and not the canary.
          for (const name of await fs.readdir(target)) {
            const st = await fs.lstat(join(target, name));
            if (st.isFile()) assert.notEqual(await fs.readFile(join(target, name), 'utf8'), CANARY);
          }
          await c.check?.(target);
        }
      });
    }

    test('neutralised: file, symlink, file with one name leaves a regular file', async () => {
      const target = await fs.mkdtemp(join(base, 'fsf-'));
      await applyLayer(
        chunked(
          await buildTar([
            { name: 'f', content: 'first\n' },
            { name: 'f', type: 'symlink', linkname: '/etc/passwd' },
            { name: 'f', content: 'third\n' },
          ]),
        ),
        { mediaType: 'application/vnd.oci.image.layer.v1.tar', targetDir: target, format: 'overlay', context: 'fsf' },
      );
      const st = await fs.lstat(join(target, 'f'));
      assert.ok(st.isFile());
      assert.equal(await fs.readFile(join(target, 'f'), 'utf8'), 'third\n');
    });

    test("a lower layer's symlinks are followed inside the root, never out of it (plain format)", async () => {
      const target = await fs.mkdtemp(join(base, 'lower-'));
      await fs.mkdir(join(target, 'usr/lib'), { recursive: true });
      await fs.symlink('/usr/lib', join(target, 'lib'));
      await fs.symlink('../../../../..', join(target, 'up'));
      await fs.symlink('/etc', join(target, 'etc'));
      await applyLayer(
        chunked(
          await buildTar([
            { name: 'lib/added', content: 'added\n' },
            { name: 'up/top', content: 'top\n' },
          ]),
        ),
        {
          mediaType: 'application/vnd.oci.image.layer.v1.tar',
          targetDir: target,
          format: 'plain',
          context: 'lower',
        },
      );
      assert.equal(await fs.readFile(join(target, 'usr/lib/added'), 'utf8'), 'added\n');
      assert.equal(await fs.readFile(join(target, 'top'), 'utf8'), 'top\n', "'..' stops at the root");
      assert.ok((await fs.lstat(join(target, 'lib'))).isSymbolicLink());
      assert.equal(await fs.stat('/usr/lib/added').catch(() => undefined), undefined);
      // etc -> /etc is, inside the root, a symlink to itself: refused as a loop, never followed out.
      await assert.rejects(
        applyLayer(chunked(await buildTar([{ name: 'etc/passwd', content: 'root::0:0::/:/bin/sh\n' }])), {
          mediaType: 'application/vnd.oci.image.layer.v1.tar',
          targetDir: target,
          format: 'plain',
          context: 'lower',
        }),
        /entry "etc\/passwd": resolving its parent "etc" followed more than 40 symlinks/,
      );
    });

    test('a gzip bomb stops at maxBytes with a clear error', async () => {
      const target = await fs.mkdtemp(join(base, 'bomb-'));
      const declared = 8 * 1024 ** 3;
      const maxBytes = 32 * 1024 ** 2;
      const bomb = await gzipBomb(declared);
      await assert.rejects(
        applyLayer(bomb.stream, {
          mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
          targetDir: target,
          format: 'overlay',
          context: 'image test/bomb:1 layer 0',
          limits: { maxBytes },
        }),
        (e: unknown) => {
          assert.ok(isBerthError(e, ErrorCode.InvalidArgument), String(e));
          assert.match(
            e.message,
            /^image test\/bomb:1 layer 0: the uncompressed layer exceeds 33554432 bytes \(limits.maxBytes\)/,
          );
          return true;
        },
      );
      // It stopped early: far less than the declared size was ever made, or written.
      assert.ok(bomb.compressedBytes() < 1024 ** 2, `compressed bytes produced: ${bomb.compressedBytes()}`);
      const st = await fs.stat(join(target, 'bomb')).catch(() => undefined);
      assert.ok(st === undefined || st.size <= maxBytes, `bomb file grew to ${st?.size}`);
    });

    test('a truncated layer is refused as invalid, not as an internal error', async () => {
      const target = await fs.mkdtemp(join(base, 'trunc-'));
      const layer = gzip(await buildTar([{ name: 'big', content: Buffer.alloc(100_000, 7) }]));
      await assert.rejects(
        applyLayer(chunked(layer.subarray(0, layer.length / 2)), {
          mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
          targetDir: target,
          format: 'overlay',
          context: 'trunc',
        }),
        (e: unknown) => isBerthError(e, ErrorCode.InvalidArgument) && /^trunc: /.test(e.message),
      );
    });

    test("the tar reader's own message is wrapped in what it means for the layer (a pax header over 4 MiB)", async () => {
      const target = await fs.mkdtemp(join(base, 'bigpax-'));
      const layer = await buildTar([
        { name: 'a', content: 'a' },
        { name: 'b', content: 'b', pax: { 'SCHILY.xattr.user.big': 'y'.repeat(5 << 20) } },
      ]);
      await assert.rejects(
        applyLayer(chunked(layer, 1 << 20), {
          mediaType: 'application/vnd.oci.image.layer.v1.tar',
          targetDir: target,
          format: 'overlay',
          context: 'bigpax',
        }),
        (e: unknown) =>
          isBerthError(e, ErrorCode.InvalidArgument) &&
          e.message ===
            `bigpax: the layer is not a valid tar (after entry "a"): an entry's pax extended header or GNU long name is larger than 4 MiB, the most read for one entry's metadata (tar reader: "Header exceeds max size")`,
      );
    });

    test('a long entry name is printed once in an error, whether refused or failed in the kernel', async () => {
      const long = `${'d/'.repeat(2100)}x`;
      const count = (msg: string) => msg.split(long).length - 1;
      for (const maxPathLength of [4096, 10_000]) {
        const target = await fs.mkdtemp(join(base, 'long-'));
        // 4096: berth's own limit refuses it; 10,000: the kernel does (ENAMETOOLONG, a path over PATH_MAX).
        await assert.rejects(
          applyLayer(chunked(await buildTar([{ name: long, content: 'x' }])), {
            mediaType: 'application/vnd.oci.image.layer.v1.tar',
            targetDir: target,
            format: 'overlay',
            context: 'long',
            limits: { maxPathLength },
          }),
          (e: unknown) => {
            assert.ok(isBerthError(e), String(e));
            assert.equal(count(e.message), 1, `${maxPathLength}: ${e.message.replaceAll(long, '<long>')}`);
            assert.match(
              e.message.replaceAll(long, '<long>'),
              maxPathLength === 4096
                ? /^long: entry "<long>": the name is longer than 4096 bytes$/
                : /^long: applying entry "<long>": [a-z]+: ENAMETOOLONG: name too long$/,
            );
            return true;
          },
        );
      }
    });

    test('garbage is refused as not a tar', async () => {
      const target = await fs.mkdtemp(join(base, 'garbage-'));
      await assert.rejects(
        applyLayer(chunked(Buffer.alloc(4096, 0x41)), {
          mediaType: 'application/vnd.oci.image.layer.v1.tar',
          targetDir: target,
          format: 'overlay',
          context: 'garbage',
        }),
        (e: unknown) =>
          isBerthError(e, ErrorCode.InvalidArgument) && /garbage: the layer is not a valid tar/.test(e.message),
      );
    });
  });
}
