import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCode, isBerthError, unavailable } from '../errors/errors.ts';
import { LayerTee } from './layer-tee.ts';

async function collect(it: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of it) out.push(Buffer.from(c));
  return Buffer.concat(out);
}

const stored = (data: string) => async () =>
  (async function* () {
    yield Buffer.from(data);
  })();

describe('LayerTee', () => {
  test('streams from byte 0 and skips bytes a server sent again after ignoring Range', async () => {
    const tee = new LayerTee();
    const reading = collect(tee.input(stored('never')));
    await tee.offer(Buffer.from('hello '), 0);
    await tee.offer(Buffer.from('wor'), 6);
    // Connection dropped at 9; the server answered the Range request with the whole blob.
    await tee.offer(Buffer.from('hello w'), 0);
    await tee.offer(Buffer.from('orld'), 7);
    tee.end();
    assert.equal((await reading).toString(), 'hello world');
  });

  test('reads the stored blob when the download resumes past 0 or stores nothing', async () => {
    const resumed = new LayerTee();
    const a = collect(resumed.input(stored('from the store')));
    await resumed.offer(Buffer.from('tail'), 100);
    resumed.end();
    assert.equal((await a).toString(), 'from the store');

    const present = new LayerTee();
    const b = collect(present.input(stored('already stored')));
    present.end();
    assert.equal((await b).toString(), 'already stored');
  });

  test('the store is read only after the download finished', async () => {
    const tee = new LayerTee();
    let opened = false;
    const reading = collect(
      tee.input(async () => {
        opened = true;
        return (async function* () {
          yield Buffer.from('x');
        })();
      }),
    );
    await tee.offer(Buffer.from('part'), 10);
    await sleep(10);
    assert.equal(opened, false);
    tee.end();
    await reading;
    assert.equal(opened, true);
  });

  test('a failed download fails the reader, streaming or not', async () => {
    const streaming = new LayerTee();
    const a = collect(streaming.input(stored('x')));
    await streaming.offer(Buffer.from('abc'), 0);
    streaming.fail(unavailable('connection lost'));
    await assert.rejects(a, /connection lost/);

    const undecided = new LayerTee();
    const b = collect(undecided.input(stored('x')));
    undecided.fail(unavailable('refused'));
    await assert.rejects(b, /refused/);
  });

  test('offer waits while the queue is over the high-water mark, and not once the reader is gone', async () => {
    const tee = new LayerTee(8);
    const it = tee.input(stored('x'))[Symbol.asyncIterator]();
    let accepted = false;
    const offering = tee.offer(Buffer.alloc(10), 0).then(() => {
      accepted = true;
    });
    await sleep(10);
    assert.equal(accepted, false, 'the writer waits for the reader');
    assert.equal((await it.next()).value?.length, 10);
    await offering;
    assert.equal(accepted, true);
    const waiting = tee.offer(Buffer.alloc(10), 10);
    await it.return(undefined);
    await waiting;
    // The reader stopped: offers pass without queueing, so the download can finish storing.
    await tee.offer(Buffer.alloc(100), 20);
  });

  test('cancel stops the download at its next chunk with a final error', async () => {
    const tee = new LayerTee(4);
    const it = tee.input(stored('x'))[Symbol.asyncIterator]();
    const first = tee.offer(Buffer.alloc(8), 0);
    await it.next();
    await first;
    const blocked = tee.offer(Buffer.alloc(8), 8);
    tee.cancel('bad entry');
    await assert.rejects(blocked, (e) => isBerthError(e, ErrorCode.FailedPrecondition) && /bad entry/.test(e.message));
    await assert.rejects(tee.offer(Buffer.alloc(1), 16), (e) => isBerthError(e, ErrorCode.FailedPrecondition));
  });
});
