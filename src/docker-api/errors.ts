// The one place where BerthError categories become Docker's error responses: `{"message": "..."}`
// with docker's status codes (400 bad parameter or refused, 404 no such object, 409 conflict, 500
// otherwise). Messages of a missing object are worded as dockerd words them, since the docker CLI
// prints them as they are and users (and scripts) match them: `No such container: x`.
import { constants } from 'node:os';
import { BerthError, ErrorCode, execFailure, invalidArgument, isBerthError, notFound } from '../errors/errors.ts';

const STATUS: Record<ErrorCode, number> = {
  [ErrorCode.InvalidArgument]: 400,
  // What the engine cannot do is refused as a bad parameter, as dockerd refuses what it lacks.
  [ErrorCode.Unsupported]: 400,
  [ErrorCode.NotFound]: 404,
  [ErrorCode.AlreadyExists]: 409,
  [ErrorCode.FailedPrecondition]: 409,
  [ErrorCode.Unavailable]: 500,
  // dockerd has no status of its own for a deadline: its 500.
  [ErrorCode.DeadlineExceeded]: 500,
  [ErrorCode.Internal]: 500,
};

/** An answer dockerd gives with a status outside the categories' (libnetwork's 403 Forbidden, a plain 500). */
export class DockerStatusError extends Error {
  readonly status: number;
  constructor(status: number, message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.status = status;
  }
}

export function dockerStatusOf(e: unknown): number {
  if (e instanceof DockerStatusError) return e.status;
  return e instanceof BerthError ? STATUS[e.code] : 500;
}

export function dockerErrorBody(e: unknown): string {
  return JSON.stringify({ message: e instanceof Error ? e.message : String(e) });
}

export type ObjectKind = 'container' | 'image' | 'exec instance' | 'network' | 'volume';

/** dockerd's words for an object that does not exist. */
export function noSuch(kind: ObjectKind, word: string, cause?: unknown): BerthError {
  switch (kind) {
    case 'container':
      return notFound(`No such container: ${word}`, cause);
    case 'image':
      return notFound(`No such image: ${word}`, cause);
    case 'exec instance':
      return notFound(`No such exec instance: ${word}`, cause);
    case 'network':
      return notFound(`network ${word} not found`, cause);
    case 'volume':
      return notFound(`get ${word}: no such volume`, cause);
  }
}

/** Runs `fn`; a NotFound it throws becomes dockerd's "No such <kind>: <word>". */
export async function orNoSuch<T>(kind: ObjectKind, word: string, fn: () => Promise<T> | T): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (isBerthError(e, ErrorCode.NotFound)) throw noSuch(kind, word, e);
    throw e;
  }
}

/** A Docker request field berth does not honour: refused naming it, never silently ignored. */
export function refused(field: string, why: string): BerthError {
  return invalidArgument(`${field}: not supported by berthd (${why})`);
}

// Go's texts of the errnos an exec fails with (syscall.Errno.Error), lowercase as runc prints them:
// the docker CLI reads them to choose 126 ("permission denied", "is a directory") or 127.
const GO_ERRNO_TEXT: Record<number, string> = {
  [constants.errno.EACCES]: 'permission denied',
  [constants.errno.EISDIR]: 'is a directory',
  [constants.errno.ENOENT]: 'no such file or directory',
  [constants.errno.ENOTDIR]: 'not a directory',
  [constants.errno.ENOEXEC]: 'exec format error',
  [constants.errno.EPERM]: 'operation not permitted',
  [constants.errno.ENAMETOOLONG]: 'file name too long',
  [constants.errno.ELOOP]: 'too many levels of symbolic links',
};

/**
 * A start failure as dockerd words it. When the container's command could not be executed (the
 * engine's typed exec failure and its errno), the message is runc's, as dockerd relays it
 * (`failed to create task for container: ... exec: "/etc": is a directory: unknown`), since the
 * docker CLI derives 126 / 127 from those words; any other failure keeps the engine's message.
 */
export function dockerStartFailure(e: unknown, program: string): unknown {
  const x = execFailure(e);
  if (!x) return e;
  const why =
    x.errno === constants.errno.ENOENT && !program.includes('/')
      ? 'executable file not found in $PATH'
      : (GO_ERRNO_TEXT[x.errno] ?? `errno ${x.errno}`);
  const status = e instanceof BerthError ? e.code : x.code;
  return new BerthError(
    status,
    `failed to create task for container: unable to start container process: exec: ${JSON.stringify(program)}: ${why}: unknown`,
    { cause: e, errno: x.errno, execFailed: true },
  );
}
