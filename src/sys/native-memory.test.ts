// releaseFilePages and shedMemory, with its full collection (issue 12: berthd's memory), in a child Node process of their own:
// the pages it unmaps are its own, and that it goes on running (its code, its libraries' relocated
// data, a module loaded afterwards) is what the test checks.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { test } from 'node:test';

const NATIVE = join(import.meta.dirname, 'native.ts');

test('releaseFilePages unmaps clean file pages, and the process runs on: JS, the addon, a module loaded after', () => {
  const script = `
    import { releaseFilePages, shedMemory, pidfdOpen } from ${JSON.stringify(NATIVE)};
    const fs = process.getBuiltinModule('node:fs');
    const rssFile = () => Number(/^RssFile:\\s+(\\d+) kB/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]);
    pidfdOpen(process.pid); // the addon is loaded before the first sample
    const before = rssFile();
    const released = releaseFilePages();
    const after = rssFile();
    // Work that maps code back: JSON, a regexp, a built-in loaded only now, the addon again, shedMemory.
    const { createHash } = process.getBuiltinModule('node:crypto');
    const digest = createHash('sha256').update(JSON.stringify({ a: [1, 2, 3] })).digest('hex');
    const fd = pidfdOpen(process.pid);
    fs.closeSync(fd);
    // The full collection too: objects still referenced survive it.
    const kept = Array.from({ length: 1000 }, (_, i) => ({ i }));
    for (let i = 0; i < 100000; i++) JSON.stringify({ i });
    shedMemory({ collectGarbage: true });
    if (kept.reduce((n, o) => n + o.i, 0) !== 499500) throw new Error('a live object changed');
    const zlib = process.getBuiltinModule('node:zlib');
    const round = zlib.gunzipSync(zlib.gzipSync(Buffer.from('x'.repeat(10000)))).length;
    process.stdout.write(JSON.stringify({ before, released, after, digest, round }));
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, `child failed: ${r.stderr}`);
  const out = JSON.parse(r.stdout) as {
    before: number;
    released: number;
    after: number;
    digest: string;
    round: number;
  };
  assert.ok(out.released > 0, `nothing released: ${r.stdout}`);
  // Node's start-up alone maps tens of MB of its binary; what reading /proc/self/status maps back is far less.
  assert.ok(out.after < out.before, `RssFile did not drop: ${r.stdout}`);
  assert.equal(out.digest, createHash('sha256').update('{"a":[1,2,3]}').digest('hex'));
  assert.equal(out.round, 10000);
});
