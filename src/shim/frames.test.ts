import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeFrame, FRAME_MAX_IN, FrameDecoder, FrameType, resizeFrame, stdinFrames } from './frames.ts';

test('a frame is u8 type, u32 little-endian length, payload', () => {
  assert.deepEqual([...encodeFrame(FrameType.Stdout, Buffer.from('hi'))], [1, 2, 0, 0, 0, 0x68, 0x69]);
  assert.deepEqual([...encodeFrame(FrameType.CloseStdin)], [4, 0, 0, 0, 0]);
});

test('resize carries rows then cols as u16 little-endian, and rejects out-of-range sizes', () => {
  assert.deepEqual([...resizeFrame(300, 80)], [3, 4, 0, 0, 0, 0x2c, 0x01, 80, 0]);
  assert.throws(() => resizeFrame(70000, 1), /rows must be an integer from 0 to 65535/);
  assert.throws(() => resizeFrame(1, 1.5), /cols/);
});

test('stdin is split into frames the shim accepts', () => {
  const frames = stdinFrames(Buffer.alloc(FRAME_MAX_IN * 2 + 1, 7));
  assert.deepEqual(
    frames.map((f) => f.readUInt32LE(1)),
    [FRAME_MAX_IN, FRAME_MAX_IN, 1],
  );
  assert.equal(stdinFrames(Buffer.alloc(0)).length, 0);
});

test('the decoder reassembles frames split anywhere, byte by byte included', () => {
  const wire = Buffer.concat([
    encodeFrame(FrameType.Attached),
    encodeFrame(FrameType.Stdout, Buffer.from('abc')),
    encodeFrame(FrameType.Stderr, Buffer.from('')),
    encodeFrame(FrameType.Exit, Buffer.from('{"exitCode":3}')),
  ]);
  const d = new FrameDecoder();
  const got: string[] = [];
  for (const b of wire) for (const f of d.push(Buffer.from([b]))) got.push(`${f.type}:${f.payload.toString()}`);
  assert.deepEqual(got, ['6:', '1:abc', '2:', '5:{"exitCode":3}']);
  assert.equal(d.pending, 0);
  assert.deepEqual(d.push(Buffer.from([1, 5, 0])), []);
  assert.equal(d.pending, 3);
});
