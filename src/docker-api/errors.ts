// The one place where BerthError categories become Docker's error responses: `{"message": "..."}`
// with docker's status codes (400 bad parameter or refused, 404 no such object, 409 conflict, 500
// otherwise). Messages of a missing object are worded as dockerd words them, since the docker CLI
// prints them as they are and users (and scripts) match them: `No such container: x`.
import { BerthError, ErrorCode, invalidArgument, isBerthError, notFound } from '../errors/errors.ts';

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

export function dockerStatusOf(e: unknown): number {
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
