// The one place where an OCI runtime CLI's failure (berth-runtime, runc or crun exec'd by
// src/engine/runtime-cli.ts) becomes a BerthError category. Those runtimes exit 1 for every
// failure and say what went wrong only in words on stderr, so here, and only here, berth reads
// another program's words: each rule below names the messages it stands for, as the runtimes print
// them (runc 1.1, crun 1.8, berth-runtime; the unit test holds them verbatim). Anything no rule
// knows is Internal with the runtime's own message. berth's own errors are never classified by
// their text (src/errors/errors.ts).
import { BerthError, ErrorCode } from '../errors/errors.ts';

type Rule = { code: ErrorCode; pattern: RegExp };

const RULES: readonly Rule[] = [
  // runc: `container does not exist`; berth-runtime: `container <id> does not exist`;
  // crun: "error opening file `<root>/<id>/status`: No such file or directory",
  //       "cannot open directory '<root>/<id>': No such file or directory".
  { code: ErrorCode.NotFound, pattern: /does not exist|no such|not found/i },
  // runc: `container with given ID already exists`; berth-runtime: `container with id <id> already exists`.
  { code: ErrorCode.AlreadyExists, pattern: /already exists/i },
  // runc: `container not running`, `container not paused`, `cannot start an already running
  // container`, `cannot start a container that has stopped`, `cannot delete container <id> that is
  // not stopped: running`; berth-runtime: the same words, and `container <id> is not running: stopped`;
  // crun: "the container `<id>` is not in 'created' state".
  {
    code: ErrorCode.FailedPrecondition,
    pattern: /not running|not paused|is stopped|cannot|already running|not in 'created' state/i,
  },
];

/** The last lines a runtime wrote (stderr, else stdout, else the exec error's message), as one line. */
export function runtimeMessage(stderr: string, stdout: string, fallback: string): string {
  return (stderr || stdout || fallback).trim().split('\n').slice(-3).join(' ');
}

/** The category of a runtime CLI's failure message (Internal when no rule knows it). */
export function classifyRuntimeMessage(msg: string): ErrorCode {
  return RULES.find((r) => r.pattern.test(msg))?.code ?? ErrorCode.Internal;
}

/** The BerthError for a failed `<binary> <verb> … <id>`: its category from the message, the message naming the call. */
export function runtimeFailure(binary: string, args: string[], msg: string, cause: unknown): BerthError {
  return new BerthError(classifyRuntimeMessage(msg), `${binary} ${args[0]} ${args.at(-1)}: ${msg}`, { cause });
}
