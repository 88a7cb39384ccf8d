// The one place where BerthError categories become HTTP statuses (and back, for the client): the
// native API's error body is {"message": "..."} with the category in the X-Berth-Error header, so a
// client rebuilds the same BerthError the engine threw.
import { BerthError, ErrorCode } from '../errors/errors.ts';

export const ERROR_HEADER = 'x-berth-error';

const STATUS: Record<ErrorCode, number> = {
  [ErrorCode.InvalidArgument]: 400,
  [ErrorCode.NotFound]: 404,
  [ErrorCode.AlreadyExists]: 409,
  [ErrorCode.FailedPrecondition]: 409,
  [ErrorCode.Unavailable]: 503,
  [ErrorCode.DeadlineExceeded]: 504,
  [ErrorCode.Unsupported]: 501,
  [ErrorCode.Internal]: 500,
};

export function httpStatusOf(e: unknown): number {
  return e instanceof BerthError ? STATUS[e.code] : 500;
}

/** The category of anything thrown: a BerthError's own, else Internal (never an errno name such as ENOENT). */
export function errorCodeOf(e: unknown): ErrorCode {
  return e instanceof BerthError ? e.code : ErrorCode.Internal;
}

/** The line that ends a JSON-lines stream (logs, events, pull progress) when it fails. */
export function streamErrorLine(e: unknown): { error: string; code: ErrorCode } {
  return { error: e instanceof Error ? e.message : String(e), code: errorCodeOf(e) };
}

/** For the client: the category of an error response (header first, status as a fallback). */
export function codeFromResponse(status: number, header: string | undefined): ErrorCode {
  if (header && (Object.values(ErrorCode) as string[]).includes(header)) return header as ErrorCode;
  const hit = (Object.entries(STATUS) as [ErrorCode, number][]).find(([, s]) => s === status);
  return hit ? hit[0] : ErrorCode.Internal;
}
