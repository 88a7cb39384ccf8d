import assert from 'node:assert/strict';
import { test } from 'node:test';
import { documentedErrorCodes } from '../../test/lib/error-docs.ts';
import { constants } from 'node:os';
import { BerthError, ErrorCode } from '../errors/errors.ts';
import { dockerStartFailure, dockerStatusOf } from './errors.ts';

test('each code answers with the Docker API status docs/errors.md gives it; a foreign error is 500', () => {
  for (const [code, cells] of documentedErrorCodes()) {
    assert.equal(String(dockerStatusOf(new BerthError(code as ErrorCode, 'x'))), cells.at(-1), code);
  }
  assert.equal(dockerStatusOf(new Error('raw')), 500);
});

test("a start whose command cannot be executed is worded as dockerd relays runc's (the CLI's 126/127 read it); other failures keep theirs", () => {
  const init = (errno: number) =>
    new BerthError(ErrorCode.FailedPrecondition, 'RESOLVE_EXEC "/etc": Is a directory', { errno, execFailed: true });
  const wrapped = (errno: number) =>
    new BerthError(ErrorCode.Internal, 'berth-runtime create c: ...', { cause: init(errno) });
  const msg = (e: unknown) => (e as Error).message;
  assert.equal(
    msg(dockerStartFailure(wrapped(constants.errno.EISDIR), '/etc')),
    'failed to create task for container: unable to start container process: exec: "/etc": is a directory: unknown',
  );
  assert.match(
    msg(dockerStartFailure(wrapped(constants.errno.EACCES), '/etc/passwd')),
    /exec: "\/etc\/passwd": permission denied: unknown$/,
  );
  assert.match(
    msg(dockerStartFailure(wrapped(constants.errno.ENOENT), 'nope')),
    /exec: "nope": executable file not found in \$PATH: unknown$/,
  );
  assert.match(
    msg(dockerStartFailure(wrapped(constants.errno.ENOENT), '/no/such')),
    /exec: "\/no\/such": no such file or directory: unknown$/,
  );
  // An errno of another op (a mount's ENOENT) is not the command's: the engine's message stays.
  const mount = new BerthError(ErrorCode.FailedPrecondition, 'MOUNT "/x": No such file or directory', {
    errno: constants.errno.ENOENT,
  });
  assert.equal(dockerStartFailure(mount, 'sh'), mount);
});
