import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ErrorCode, isBerthError } from '../errors/errors.ts';
import { RuntimeCli } from './runtime-cli.ts';
import { defaultRuntimeClasses, resolveRuntimeClasses, runtimeOfClass } from './runtime-classes.ts';

const dir = mkdtempSync(join(tmpdir(), 'berth-runtime-classes-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test("built-in classes: berth-runtime in-process, runc and crun exec'd", () => {
  const d = defaultRuntimeClasses();
  assert.deepEqual(Object.keys(d).sort(), ['berth-runtime', 'crun', 'runc']);
  assert.equal(d['berth-runtime']!.inProcess, true);
  assert.equal(d.runc!.inProcess, false);
  assert.equal(d.crun!.inProcess, false);
});

test("config over the built-ins: a path alone keeps a class's in-process switch; a new class is exec'd unless it says so", () => {
  const r = resolveRuntimeClasses({
    'berth-runtime': '/opt/b/berth-runtime',
    mine: '/opt/mine',
    lib: { path: '/opt/x/berth-runtime-v2', inProcess: true },
    runc: { path: '/opt/runc' },
  });
  assert.deepEqual(r['berth-runtime'], { path: '/opt/b/berth-runtime', inProcess: true });
  assert.deepEqual(r.mine, { path: '/opt/mine', inProcess: false });
  assert.deepEqual(r.lib, { path: '/opt/x/berth-runtime-v2', inProcess: true });
  assert.deepEqual(r.runc, { path: '/opt/runc', inProcess: false });
  assert.deepEqual(resolveRuntimeClasses({ 'berth-runtime': { path: '/b', inProcess: false } })['berth-runtime'], {
    path: '/b',
    inProcess: false,
  });
});

test('a malformed runtimes entry is refused naming it and what was expected', () => {
  const bad: [unknown, RegExp][] = [
    [{ x: 42 }, /runtimes\."x": expected a path or \{path, inProcess\}, got 42/],
    [{ x: { path: '' } }, /runtimes\."x": expected a path/],
    [{ x: { path: '/a', inProcess: 'yes' } }, /runtimes\."x"\.inProcess: expected true or false, got "yes"/],
    [{ '../x': '/a' }, /runtimes\."\.\.\/x": a class name is/],
    [['/a'], /runtimes: expected an object/],
  ];
  for (const [cfg, re] of bad) {
    assert.throws(
      () => resolveRuntimeClasses(cfg as never),
      (e) => isBerthError(e, ErrorCode.InvalidArgument) && re.test(e.message),
      JSON.stringify(cfg),
    );
  }
});

test("RuntimeCli goes in-process by the class's switch, not by the binary's name", async () => {
  const root = join(dir, 'root');
  // Named berth-runtime but not in-process: exec'd (and the binary is missing, so the exec fails).
  await assert.rejects(
    new RuntimeCli(join(dir, 'nowhere', 'berth-runtime'), root, { inProcess: false }).start('c1'),
    (e) => isBerthError(e) && /ENOENT|not found/i.test(e.message) && !/does not exist/.test(e.message),
  );
  // Any name, in-process: the library answers that there is no such container, without an exec.
  await assert.rejects(
    new RuntimeCli(join(dir, 'nowhere', 'some-runtime'), root, { inProcess: true }).start('c1'),
    (e) => isBerthError(e, ErrorCode.NotFound) && /c1/.test(e.message),
  );
});

test("a class's CLI keeps its state under the run root by class name; an unknown class is refused naming those there are", () => {
  const classes = resolveRuntimeClasses({ mine: { path: '/opt/mine', inProcess: true } });
  const rt = runtimeOfClass(classes, '/run/x', 'mine');
  assert.deepEqual([rt.binary, rt.root, rt.inProcess], ['/opt/mine', '/run/x/runtime/mine', true]);
  assert.equal(runtimeOfClass(classes, '/run/x', 'runc').inProcess, false);
  assert.throws(
    () => runtimeOfClass(classes, '/run/x', 'kata', 'runtime handler'),
    (e) =>
      isBerthError(e, ErrorCode.InvalidArgument) &&
      /^runtime handler "kata": unknown; expected one of berth-runtime, runc, crun, mine$/.test(e.message),
  );
});
