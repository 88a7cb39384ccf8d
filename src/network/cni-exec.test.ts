import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ErrorCode, isBerthError } from '../errors/errors.ts';
import { CniExecutor, pluginConfig } from './cni-exec.ts';
import type { CniConfList } from './cni-types.ts';

// Fake plugins: each logs its command, environment and stdin, then prints a result that appends
// its own interface to prevResult's, so the chaining is visible in the final result.
let dir: string;
const fake = (name: string, extra = '') => `#!/bin/sh
conf=$(cat)
printf '%s\\n' "${name} $CNI_COMMAND $CNI_CONTAINERID $CNI_NETNS $CNI_IFNAME $CNI_PATH $CNI_ARGS" >> "$LOG"
printf '%s\\n' "$conf" >> "$LOG.json"
${extra}
if [ "$CNI_COMMAND" = ADD ]; then
  prev=$(printf '%s' "$conf" | sed -n 's/.*"prevResult":{"cniVersion":"1.0.0","interfaces":\\[\\(.*\\)\\]}.*/\\1/p')
  [ -n "$prev" ] && prev="$prev,"
  printf '{"cniVersion":"1.0.0","interfaces":[%s{"name":"${name}"}]}' "$prev"
fi
`;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-cni-exec-'));
  process.env.LOG = join(dir, 'log');
  await writeFile(join(dir, 'one'), fake('one'));
  await writeFile(join(dir, 'two'), fake('two'));
  await writeFile(
    join(dir, 'bad'),
    fake('bad', 'echo \'{"cniVersion":"1.0.0","code":11,"msg":"busy","details":"try later"}\'; exit 1'),
  );
  for (const p of ['one', 'two', 'bad']) await chmod(join(dir, p), 0o755);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const list = (...types: string[]): CniConfList => ({
  cniVersion: '1.0.0',
  name: 'net1',
  plugins: types.map((type, i) => ({
    type,
    cniVersion: '0.3.1',
    name: 'ignored',
    ...(i === 1 ? { capabilities: { portMappings: true } } : {}),
  })),
});
const rt = {
  containerId: 'c1',
  netns: '/run/x/netns/c1',
  ifName: 'eth0',
  args: [['A', 'b']] as const,
  capabilityArgs: { portMappings: [{ hostPort: 1 }], other: 2 },
};

async function log(): Promise<{ lines: string[]; confs: Record<string, unknown>[] }> {
  const lines = (await readFile(process.env.LOG!, 'utf8')).trim().split('\n');
  const confs = (await readFile(`${process.env.LOG}.json`, 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  await rm(process.env.LOG!);
  await rm(`${process.env.LOG}.json`);
  return { lines, confs };
}

test('pluginConfig: the list names the plugin, runtimeConfig only for declared capabilities', () => {
  const l = list('one', 'two');
  const c0 = pluginConfig(l, l.plugins[0]!, rt);
  assert.equal(c0.name, 'net1');
  assert.equal(c0.cniVersion, '1.0.0');
  assert.equal(c0.runtimeConfig, undefined);
  assert.equal(c0.prevResult, undefined);
  const c1 = pluginConfig(l, l.plugins[1]!, rt, { cniVersion: '1.0.0' });
  assert.deepEqual(c1.runtimeConfig, { portMappings: [{ hostPort: 1 }] });
  assert.deepEqual(c1.prevResult, { cniVersion: '1.0.0' });
});

test('ADD chains prevResult in order; DEL runs in reverse with the cached result; env per the spec', async () => {
  const x = new CniExecutor([join(dir, 'missing'), dir]);
  const res = await x.addList(list('one', 'two'), rt);
  assert.deepEqual(
    res.interfaces?.map((i) => i.name),
    ['one', 'two'],
  );
  let l = await log();
  assert.deepEqual(l.lines, [
    `one ADD c1 /run/x/netns/c1 eth0 ${join(dir, 'missing')}:${dir} A=b`,
    `two ADD c1 /run/x/netns/c1 eth0 ${join(dir, 'missing')}:${dir} A=b`,
  ]);
  assert.equal(l.confs[0]!.prevResult, undefined);
  assert.deepEqual(l.confs[1]!.prevResult, { cniVersion: '1.0.0', interfaces: [{ name: 'one' }] });

  await x.delList(list('one', 'two'), rt, res);
  l = await log();
  assert.deepEqual(
    l.lines.map((s) => s.split(' ').slice(0, 2).join(' ')),
    ['two DEL', 'one DEL'],
  );
  for (const c of l.confs) assert.deepEqual(c.prevResult, res);

  await x.checkList(list('one', 'two'), rt, res, new Set(['two']));
  l = await log();
  assert.deepEqual(
    l.lines.map((s) => s.split(' ').slice(0, 2).join(' ')),
    ['one CHECK'],
  );
  await x.checkList({ ...list('one'), disableCheck: true }, rt, res);
  await assert.rejects(readFile(process.env.LOG!), { code: 'ENOENT' });
});

test('a failing plugin stops the list; its CNI error object becomes the message', async () => {
  const x = new CniExecutor([dir]);
  await assert.rejects(x.addList(list('one', 'bad', 'two'), rt), (e) => {
    assert.ok(isBerthError(e, ErrorCode.Unavailable), String(e));
    assert.match(
      e.message,
      /CNI ADD of plugin "bad" \(network net1, container c1, exit status 1\): error 11: busy \(try later\)/,
    );
    return true;
  });
  const l = await log();
  assert.deepEqual(
    l.lines.map((s) => s.split(' ')[0]),
    ['one', 'bad'],
  );
  await assert.rejects(
    x.addList(list('nope'), rt),
    (e) => isBerthError(e, ErrorCode.NotFound) && e.message.includes('containernetworking-plugins'),
  );
});
