import assert from 'node:assert/strict';
import { duplexPair } from 'node:stream';
import { test } from 'node:test';
import { encodeFrame, FrameDecoder, FrameType, stdinFrames } from '../shim/frames.ts';
import { DETACHED_FRAME, DetachMatcher, detachOnKeys, withDetachKeys } from './detach-keys.ts';

const CTRL_P = 16;
const CTRL_Q = 17;

/** Feeds `chunks` in order; what was forwarded, and at which chunk the sequence completed (-1: never). */
function feed(keys: number[], chunks: (string | number[])[]): { out: string; at: number } {
  const m = new DetachMatcher(Uint8Array.from(keys));
  let out = '';
  for (const [i, c] of chunks.entries()) {
    const r = m.push(typeof c === 'string' ? Buffer.from(c, 'latin1') : Uint8Array.from(c));
    out += r.forward.toString('latin1');
    if (r.detached) return { out, at: i };
  }
  return { out, at: -1 };
}

test('the matcher forwards what is not the sequence and stops at the sequence', () => {
  assert.deepEqual(feed([CTRL_P, CTRL_Q], ['ls\r', [CTRL_P, CTRL_Q], 'after']), { out: 'ls\r', at: 1 });
  // What followed the sequence in the same read goes nowhere.
  assert.deepEqual(feed([CTRL_P, CTRL_Q], [[0x61, CTRL_P, CTRL_Q, 0x62]]), { out: 'a', at: 0 });
});

test('the matcher finds a sequence split across reads, holding its start back until it knows', () => {
  const m = new DetachMatcher(Uint8Array.from([CTRL_P, CTRL_Q]));
  const first = m.push(Uint8Array.from([0x78, CTRL_P]));
  assert.deepEqual([first.forward.toString('latin1'), first.detached], ['x', false], 'ctrl-p is held back');
  const second = m.push(Uint8Array.from([CTRL_Q]));
  assert.deepEqual([second.forward.length, second.detached], [0, true]);
  // One byte a read, a three-key sequence.
  assert.deepEqual(feed([1, 2, 3], [[1], [2], [3]]), { out: '', at: 2 });
});

test('a partial match that breaks is forwarded unchanged, in order', () => {
  assert.deepEqual(feed([CTRL_P, CTRL_Q], [[CTRL_P], 'x']), { out: '\x10x', at: -1 });
  assert.deepEqual(feed([CTRL_P, CTRL_Q], [[CTRL_P, 0x41, CTRL_Q]]), { out: '\x10A\x11', at: -1 });
  // The byte that breaks a match may start the next one.
  assert.deepEqual(feed([CTRL_P, CTRL_Q], [[CTRL_P], [CTRL_P], [CTRL_Q]]), { out: '\x10', at: 2 });
  // A tail of the held bytes may still begin the sequence (a,a,b typed as a,a,a,b).
  assert.deepEqual(feed([0x61, 0x61, 0x62], ['aa', 'ab']), { out: 'a', at: 1 });
  assert.deepEqual(feed([0x61, 0x62, 0x61, 0x63], ['abab', 'ac']), { out: 'ab', at: 1 });
});

test('flush gives up the held bytes (the input ended)', () => {
  const m = new DetachMatcher(Uint8Array.from([CTRL_P, CTRL_Q]));
  assert.equal(m.push(Uint8Array.from([0x7a, CTRL_P])).forward.toString('latin1'), 'z');
  assert.deepEqual([...m.flush()], [CTRL_P]);
  assert.equal(m.flush().length, 0);
  assert.throws(() => new DetachMatcher(new Uint8Array()), /empty/);
});

/** What the shim side of a detaching stream receives, decoded to frames. */
function shimSide(): { conn: ReturnType<typeof duplexPair>[0]; shim: ReturnType<typeof duplexPair>[1] } {
  const [conn, shim] = duplexPair();
  return { conn, shim };
}

async function readFrames(s: NodeJS.ReadableStream): Promise<{ type: number; payload: string }[]> {
  const dec = new FrameDecoder();
  const out: { type: number; payload: string }[] = [];
  for await (const c of s)
    for (const f of dec.push(c as Buffer)) out.push({ type: f.type, payload: f.payload.toString('latin1') });
  return out;
}

test('a detaching attach stream: stdin goes through the matcher, output passes whole frames, then DETACHED ends it', async () => {
  const { conn, shim } = shimSide();
  const s = detachOnKeys(conn, Uint8Array.from([CTRL_P, CTRL_Q]));
  const toShim: Buffer[] = [];
  shim.on('data', (c: Buffer) => toShim.push(c));
  // Output split mid-frame reaches the client only as whole frames.
  const out = encodeFrame(FrameType.Stdout, Buffer.from('hello'));
  shim.write(out.subarray(0, 3));
  const chunks: Buffer[] = [];
  s.on('data', (c: Buffer) => chunks.push(c));
  const ended = new Promise((r) => s.once('end', r));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(chunks, [], 'no part of a frame');
  shim.write(out.subarray(3));
  while (chunks.length === 0) await new Promise((r) => setImmediate(r));
  assert.deepEqual(chunks, [out], 'the whole frame, as one');
  s.write(Buffer.concat([...stdinFrames(Buffer.from('ls\x10')), encodeFrame(FrameType.Resize, Buffer.alloc(4))]));
  s.write(stdinFrames(Buffer.from('\x11ignored'))[0]!);
  await ended;
  assert.deepEqual(chunks.slice(1), [encodeFrame(DETACHED_FRAME as FrameType)]);
  await new Promise((r) => (shim.destroyed || shim.readableEnded ? r(undefined) : shim.once('close', r)));
  const dec = new FrameDecoder();
  const sent = dec.push(Buffer.concat(toShim)).map((f) => [f.type, f.payload.toString('latin1')]);
  assert.deepEqual(sent, [
    [FrameType.Stdin, 'ls'],
    [FrameType.Resize, '\0\0\0\0'],
  ]);
});

test('without a match the stream carries everything, the held start goes out before CLOSE_STDIN, and EXIT ends it', async () => {
  const { conn, shim } = shimSide();
  const s = withDetachKeys(conn, { detachKeys: Uint8Array.from([CTRL_P, CTRL_Q]) });
  const received: Buffer[] = [];
  shim.on('data', (c: Buffer) => received.push(c));
  const clientSide = readFrames(s);
  s.write(stdinFrames(Buffer.from('a\x10'))[0]!);
  s.write(encodeFrame(FrameType.CloseStdin));
  shim.end(encodeFrame(FrameType.Exit, Buffer.from('{"exitCode":0}')));
  assert.deepEqual(await clientSide, [{ type: FrameType.Exit, payload: '{"exitCode":0}' }]);
  const sent = new FrameDecoder().push(Buffer.concat(received)).map((f) => [f.type, f.payload.toString('latin1')]);
  assert.deepEqual(sent, [
    [FrameType.Stdin, 'a'],
    [FrameType.Stdin, '\x10'],
    [FrameType.CloseStdin, ''],
  ]);
  assert.equal(withDetachKeys(conn, {}), conn, 'no keys: the stream as it was');
  assert.throws(() => withDetachKeys(duplexPair()[0], { detachKeys: new Uint8Array(65) }), /at most 64/);
});
