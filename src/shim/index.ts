// The shim layer's public face: the TypeScript client of native/shim (berth-shim). berthd starts
// one shim per container (and per exec), attaches through it, reads its exit records and logs.
// See docs/shim.md. Re-exports only.
export { type Attachment, type AttachOptions, attach } from './attach.ts';
export { type LogEntry, type LogStream, type ReadLogsOptions, readLogs } from './log-reader.ts';
export {
  type ExitStatus,
  readContainerPid,
  readExit,
  readShimIdentity,
  type ShimIdentity,
  shimAlive,
} from './shim-state.ts';
export { reopenLog } from './reopen-log.ts';
export { type LogFormat, type ShimInfo, type StartShimOptions, shimBinary, startShim } from './start-shim.ts';
export { type StopShimOptions, stopShim } from './stop-shim.ts';
export { waitExit } from './wait-exit.ts';
