import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  encodeFrame,
  encodePlan,
  Frame,
  FrameReader,
  formatPlan,
  int,
  ints,
  op,
  PLAN_VERSION,
  str,
  strs,
} from './plan.ts';

describe('plan encoding', () => {
  it('writes the header, op codes, lengths and tagged values little-endian', () => {
    const b = encodePlan([op('HOSTNAME', str('ab')), op('USER', int(1000), int(1000), ints([5, 6]), int(1))]);
    assert.equal(b.subarray(0, 8).toString('ascii'), 'BRTHPLAN');
    assert.equal(b.readUInt32LE(8), PLAN_VERSION);
    assert.equal(b.readUInt32LE(12), 2);
    // op 0: HOSTNAME 0x030f, reserved 0, length = tag(1) + u32 len(4) + "ab" + NUL = 8
    assert.equal(b.readUInt16LE(16), 0x030f);
    assert.equal(b.readUInt16LE(18), 0);
    assert.equal(b.readUInt32LE(20), 8);
    assert.equal(b.readUInt8(24), 2);
    assert.equal(b.readUInt32LE(25), 2);
    assert.equal(b.subarray(29, 31).toString(), 'ab');
    assert.equal(b.readUInt8(31), 0);
    // op 1: USER: int, int, ints(2), int
    const o1 = 32;
    assert.equal(b.readUInt16LE(o1), 0x0315);
    assert.equal(b.readUInt32LE(o1 + 4), 9 + 9 + (1 + 4 + 16) + 9);
    assert.equal(b.readUInt8(o1 + 8), 1);
    assert.equal(b.readBigInt64LE(o1 + 9), 1000n);
    assert.equal(b.readUInt8(o1 + 26), 5);
    assert.equal(b.readUInt32LE(o1 + 27), 2);
    assert.equal(b.readBigInt64LE(o1 + 31), 5n);
    assert.equal(b.length, o1 + 8 + 9 + 9 + 21 + 9);
  });

  it('encodes negative ints (RLIM_INFINITY) and string arrays', () => {
    const b = encodePlan([
      op('PRLIMIT', int(7), int(-1), int(-1)),
      op('EXEC', str('sh'), strs(['sh', '-c']), strs([])),
    ]);
    assert.equal(b.readBigInt64LE(16 + 8 + 10), -1n);
    assert.match(
      formatPlan([op('EXEC', str('sh'), strs(['sh', '-c']), strs([]))]),
      /^EXEC\("sh", \["sh","-c"\], \[\]\)$/,
    );
  });

  it('refuses strings with NUL bytes, naming the op', () => {
    assert.throws(() => encodePlan([op('HOSTNAME', str('a\0b'))]), /op 0 \(HOSTNAME\): string contains a NUL byte/);
  });
});

describe('frames', () => {
  it('round-trips frames split across chunks', () => {
    const all = Buffer.concat([encodeFrame(Frame.PID, Buffer.from([1, 2, 0, 0])), encodeFrame(Frame.READY)]);
    const r = new FrameReader();
    const got = [...r.push(all.subarray(0, 5)), ...r.push(all.subarray(5, 13)), ...r.push(all.subarray(13))];
    assert.deepEqual(
      got.map((f) => [f.type, [...f.payload]]),
      [
        [Frame.PID, [1, 2, 0, 0]],
        [Frame.READY, []],
      ],
    );
    assert.equal(r.buffered, 0);
  });

  it('rejects an oversized frame', () => {
    const head = Buffer.alloc(8);
    head.writeUInt32LE(1, 0);
    head.writeUInt32LE(64 * 1024 * 1024, 4);
    assert.throws(() => new FrameReader().push(head), /exceeds/);
  });
});
