import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCode } from '../errors/errors.ts';
import { classifyRuntimeMessage, runtimeFailure, runtimeMessage } from './runtime-errors.ts';

// Verbatim from runc 1.1.5, crun 1.8.1 and berth-runtime on this project's CI host.
const SAID: [string, string, ErrorCode][] = [
  ['runc', 'time="2026-12-07T03:26:03Z" level=error msg="container does not exist"', ErrorCode.NotFound],
  ['crun', 'error opening file `/run/berth/runtime/crun/c1/status`: No such file or directory', ErrorCode.NotFound],
  ['crun', "cannot open directory '/run/berth/runtime/crun/c1': No such file or directory", ErrorCode.NotFound],
  ['berth-runtime', 'container c1 does not exist', ErrorCode.NotFound],
  [
    'runc',
    'time="2026-12-07T03:26:09Z" level=error msg="runc create failed: container with given ID already exists"',
    ErrorCode.AlreadyExists,
  ],
  ['berth-runtime', 'container with id c1 already exists', ErrorCode.AlreadyExists],
  ['runc', 'time="2026-12-07T03:26:09Z" level=error msg="container not paused"', ErrorCode.FailedPrecondition],
  ['runc', 'time="2026-12-07T03:26:10Z" level=error msg="container not running"', ErrorCode.FailedPrecondition],
  [
    'runc',
    'time="2026-12-07T03:26:09Z" level=error msg="cannot start an already running container"',
    ErrorCode.FailedPrecondition,
  ],
  [
    'runc',
    'time="2026-12-07T03:26:10Z" level=error msg="cannot start a container that has stopped"',
    ErrorCode.FailedPrecondition,
  ],
  [
    'runc',
    'time="2026-12-07T03:26:09Z" level=error msg="cannot delete container c1 that is not stopped: running"',
    ErrorCode.FailedPrecondition,
  ],
  ['berth-runtime', 'container c1 is not running: stopped', ErrorCode.FailedPrecondition],
  ['berth-runtime', 'container c1 is not paused: running', ErrorCode.FailedPrecondition],
  ['crun', "the container `c1` is not in 'created' state", ErrorCode.FailedPrecondition],
  ['runc', 'time="2026-12-07T03:26:10Z" level=error msg="unable to freeze"', ErrorCode.Internal],
  ['crun', 'open `/sys/fs/cgroup/x`: Permission denied', ErrorCode.Internal],
];

test("each runtime's words map to one category; what no rule knows is Internal", () => {
  for (const [rt, msg, code] of SAID) assert.equal(classifyRuntimeMessage(msg), code, `${rt}: ${msg}`);
});

test("the error names the call and keeps the runtime's last lines", () => {
  const cause = new Error('exit status 1');
  const e = runtimeFailure(
    '/usr/sbin/runc',
    ['kill', 'c1', 'KILL'],
    runtimeMessage('warning\nlevel=error msg="container not running"\n', '', 'x'),
    cause,
  );
  assert.equal(e.code, ErrorCode.FailedPrecondition);
  assert.equal(e.message, '/usr/sbin/runc kill KILL: warning level=error msg="container not running"');
  assert.equal(e.cause, cause);
  assert.equal(runtimeMessage('', '', 'spawn runc ENOENT'), 'spawn runc ENOENT');
  assert.equal(runtimeMessage('', 'out\n', 'x'), 'out');
  assert.equal(runtimeMessage('1\n2\n3\n4\n', '', 'x'), '2 3 4');
});
