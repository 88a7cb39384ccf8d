// The one place where berth's error categories become gRPC status codes for the CRI (as the API's
// errors.ts does for HTTP): NotFound for a missing id, InvalidArgument naming the field, AlreadyExists
// for a name in use, FailedPrecondition for a call the object's state forbids, Unimplemented for what
// berth does not do. Pure: the codes are gRPC's wire numbers, so this module needs no grpc-js.
import { BerthError, ErrorCode, errorMessage } from '../errors/errors.ts';

/** gRPC status codes (grpc/doc/statuscodes.md), the subset berth returns. */
export const GrpcStatus = {
  OK: 0,
  Unknown: 2,
  InvalidArgument: 3,
  DeadlineExceeded: 4,
  NotFound: 5,
  AlreadyExists: 6,
  FailedPrecondition: 9,
  Unimplemented: 12,
  Internal: 13,
  Unavailable: 14,
} as const;

const BY_CATEGORY: Record<ErrorCode, number> = {
  [ErrorCode.InvalidArgument]: GrpcStatus.InvalidArgument,
  [ErrorCode.NotFound]: GrpcStatus.NotFound,
  [ErrorCode.AlreadyExists]: GrpcStatus.AlreadyExists,
  [ErrorCode.FailedPrecondition]: GrpcStatus.FailedPrecondition,
  [ErrorCode.Unavailable]: GrpcStatus.Unavailable,
  [ErrorCode.DeadlineExceeded]: GrpcStatus.DeadlineExceeded,
  [ErrorCode.Unsupported]: GrpcStatus.Unimplemented,
  [ErrorCode.Internal]: GrpcStatus.Internal,
};

/** A grpc-js ServiceError-shaped object for `callback(err)`: the code and berth's message. */
export function grpcErrorOf(e: unknown): { code: number; details: string; message: string } {
  const code = e instanceof BerthError ? BY_CATEGORY[e.code] : GrpcStatus.Unknown;
  const details = errorMessage(e);
  return { code, details, message: details };
}

export function isNotFound(e: unknown): boolean {
  return e instanceof BerthError && e.code === ErrorCode.NotFound;
}
