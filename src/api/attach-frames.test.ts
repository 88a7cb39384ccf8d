import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  encodeFrame,
  FrameDecoder,
  FrameType,
  resizeFrame as shimResize,
  stdinFrames as shimStdin,
} from '../shim/frames.ts';
import { DETACHED_FRAME } from '../engine/detach-keys.ts';
import { AttachDecoder, AttachFrame, frame, resizeFrame, stdinFrames } from './attach-frames.ts';

test('the API attach codec is byte-for-byte the shim protocol', () => {
  // The API passes the shim's client frames through; berthd's own control frames (ReopenLog,
  // LogReopened) never reach an API client, so the API's table is the shim's minus those, plus
  // the engine's DETACHED (the end of a client that typed its detach keys).
  const { Detached, ...shimOnes } = AttachFrame;
  assert.equal(Detached, DETACHED_FRAME);
  assert.ok(!Object.values(FrameType).includes(Detached as never), 'the shim has no frame of that number');
  for (const [name, value] of Object.entries(shimOnes))
    assert.equal(FrameType[name as keyof typeof FrameType], value, name);
  assert.deepEqual(
    Object.keys(FrameType).filter((n) => !(n in AttachFrame)),
    ['ReopenLog', 'LogReopened'],
  );
  assert.deepEqual(frame(AttachFrame.Stdout, Buffer.from('hi')), encodeFrame(FrameType.Stdout, Buffer.from('hi')));
  assert.deepEqual(resizeFrame(24, 80), shimResize(24, 80));
  const big = Buffer.alloc(20000, 7);
  assert.deepEqual(stdinFrames(big), shimStdin(big));
  const d = new AttachDecoder();
  const bytes = Buffer.concat([
    encodeFrame(FrameType.Stdout, Buffer.from('a')),
    encodeFrame(FrameType.Exit, Buffer.from('{}')),
  ]);
  const got = [...d.push(bytes.subarray(0, 3)), ...d.push(bytes.subarray(3))];
  assert.deepEqual(
    got.map((f) => [f.type, f.payload.toString()]),
    new FrameDecoder().push(bytes).map((f) => [f.type, f.payload.toString()]),
  );
});
