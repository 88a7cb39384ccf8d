// berth's error convention: one class, a small set of categories with stable codes, and a message
// that says what was wrong, where (field, file, id) and what was expected. Wire adapters (CLI exit
// codes, gRPC status, HTTP status) map categories in one place each; nothing inspects a BerthError's
// message to decide anything. Other programs' words are read only where they report a failure in
// nothing else, each in one documented place: the OCI runtime CLIs' stderr
// (src/engine/runtime-errors.ts), ip(8)'s "Cannot find device" (src/network/link.ts), and the
// decompressors' and tar parser's messages (wrapApplyError in src/archive/extract-layer.ts).
// Every code is documented in docs/errors.md (src/errors/errors.test.ts compares the two both ways).
// Leaf module: imports nothing of berth.

/** The categories. Stable: tests and wire mappings depend on these strings. */
export const ErrorCode = {
  InvalidArgument: 'BERTH_ERR_INVALID_ARGUMENT',
  NotFound: 'BERTH_ERR_NOT_FOUND',
  AlreadyExists: 'BERTH_ERR_ALREADY_EXISTS',
  FailedPrecondition: 'BERTH_ERR_FAILED_PRECONDITION',
  Unavailable: 'BERTH_ERR_UNAVAILABLE',
  DeadlineExceeded: 'BERTH_ERR_DEADLINE_EXCEEDED',
  Unsupported: 'BERTH_ERR_UNSUPPORTED',
  Internal: 'BERTH_ERR_INTERNAL',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export class BerthError extends Error {
  readonly code: ErrorCode;
  /** errno from a failed system call, when there was one. */
  readonly errno: number | undefined;
  /** The container's command itself could not be executed (its search or its exec failed; `errno` says why). */
  readonly execFailed: boolean;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; errno?: number; execFailed?: boolean }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BerthError';
    this.code = code;
    this.errno = options?.errno;
    this.execFailed = options?.execFailed ?? false;
  }
}

/** The first BerthError in `e`'s cause chain whose command could not be executed (with its errno). */
export function execFailure(e: unknown): (BerthError & { errno: number }) | undefined {
  for (let c = e, depth = 0; c instanceof Error && depth < 8; c = c.cause, depth++) {
    if (c instanceof BerthError && c.execFailed && c.errno !== undefined) return c as BerthError & { errno: number };
  }
  return undefined;
}

export const invalidArgument = (msg: string, cause?: unknown) =>
  new BerthError(ErrorCode.InvalidArgument, msg, { cause });
export const notFound = (msg: string, cause?: unknown) => new BerthError(ErrorCode.NotFound, msg, { cause });
export const alreadyExists = (msg: string, cause?: unknown) => new BerthError(ErrorCode.AlreadyExists, msg, { cause });
export const failedPrecondition = (msg: string, cause?: unknown) =>
  new BerthError(ErrorCode.FailedPrecondition, msg, { cause });
export const unavailable = (msg: string, cause?: unknown) => new BerthError(ErrorCode.Unavailable, msg, { cause });
export const deadlineExceeded = (msg: string, cause?: unknown) =>
  new BerthError(ErrorCode.DeadlineExceeded, msg, { cause });
export const unsupported = (msg: string, cause?: unknown) => new BerthError(ErrorCode.Unsupported, msg, { cause });
export const internal = (msg: string, cause?: unknown) => new BerthError(ErrorCode.Internal, msg, { cause });

export function isBerthError(e: unknown, code?: ErrorCode): e is BerthError {
  return e instanceof BerthError && (code === undefined || e.code === code);
}

/** The message of anything thrown, for the edge (CLI, logs). */
export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
