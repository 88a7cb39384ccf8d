// A tiny, independent encoder of docs/plan-protocol.md for the native executor's own tests.
// Deliberately not src/sys/plan.ts: these tests check berth-init against the document, so a
// mistake shared by the two would not hide. Never import berth's src/ from here.

export type WireValue =
  | { t: 'int'; v: number | bigint }
  | { t: 'str'; v: string }
  | { t: 'bytes'; v: Uint8Array }
  | { t: 'strs'; v: string[] }
  | { t: 'ints'; v: Array<number | bigint> };

export const I = (v: number | bigint): WireValue => ({ t: 'int', v });
export const S = (v: string): WireValue => ({ t: 'str', v });
export const B = (v: Uint8Array): WireValue => ({ t: 'bytes', v });
export const SS = (v: string[]): WireValue => ({ t: 'strs', v });
export const II = (v: Array<number | bigint>): WireValue => ({ t: 'ints', v });

/** Op codes from the document. */
export const OP = {
  MODE: 0x0101,
  JOIN_NS: 0x0102,
  MKFIFO: 0x0103,
  WRITE_FILE: 0x0104,
  CLONE: 0x0105,
  UNSHARE: 0x0106,
  CGROUP_INTO: 0x0107,
  SETGROUPS: 0x0201,
  UID_MAP: 0x0202,
  GID_MAP: 0x0203,
  PRLIMIT: 0x0204,
  OOM_SCORE_ADJ: 0x0205,
  SETSID: 0x0301,
  SETRESID: 0x0302,
  ROOTFS: 0x0303,
  MOUNT: 0x0304,
  MKDIR: 0x0305,
  MKNOD: 0x0306,
  SYMLINK: 0x0307,
  HOOK_SYNC: 0x0308,
  RUN_HOOK: 0x0309,
  OPEN_FIFO: 0x030a,
  PIVOT_ROOT: 0x030b,
  CHROOT: 0x030c,
  MASK_PATH: 0x030d,
  READONLY_PATH: 0x030e,
  HOSTNAME: 0x030f,
  DOMAINNAME: 0x0310,
  SYSCTL: 0x0311,
  CONSOLE: 0x0312,
  UMASK: 0x0313,
  CAP_BOUNDING: 0x0314,
  USER: 0x0315,
  CAPS: 0x0316,
  NO_NEW_PRIVS: 0x0317,
  CHDIR: 0x0318,
  CLOSE_FDS: 0x0319,
  READY: 0x031a,
  WAIT_FIFO: 0x031b,
  SECCOMP: 0x031c,
  EXEC: 0x031d,
  SETRLIMIT: 0x031e,
  PERSONALITY: 0x031f,
  RESOLVE_EXEC: 0x0320,
} as const;

export const FRAME = {
  PLAN: 1,
  CONTINUE: 2,
  ABORT: 3,
  PID: 100,
  HOOKS: 101,
  READY: 102,
  ERROR: 103,
  EXEC_ERROR: 104,
} as const;

export const CLONE_NEWTIME = 0x00000080;
export const CLONE_NEWNS = 0x00020000;
export const CLONE_NEWUTS = 0x04000000;
export const CLONE_NEWIPC = 0x08000000;
export const CLONE_NEWUSER = 0x10000000;
export const CLONE_NEWPID = 0x20000000;
export const CLONE_NEWNET = 0x40000000;
export const MS_RDONLY = 0x1;
export const MS_NOSUID = 0x2;
export const MS_NODEV = 0x4;
export const MS_NOEXEC = 0x8;
export const MS_BIND = 0x1000;
export const MS_REC = 0x4000;
export const MS_PRIVATE = 0x40000;
export const MS_SLAVE = 0x80000;
/** MOUNT `how`: target in root, resolved fd. */
export const IN_ROOT = 0x1 | 0x8;
export const HOW_MKDIR = 0x2;
export const HOW_MKFILE = 0x4;
export const HOW_NO_SYMLINK = 0x20;

export type WireOp = [code: number, ...values: WireValue[]];

const TAGS = { int: 1, str: 2, bytes: 3, strs: 4, ints: 5 } as const;

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}

function cstr(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  return Buffer.concat([u32(b.length), b, Buffer.from([0])]);
}

function i64(n: number | bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigInt64LE(BigInt(n));
  return b;
}

export function encodeValue(v: WireValue): Buffer {
  const tag = Buffer.from([TAGS[v.t]]);
  switch (v.t) {
    case 'int':
      return Buffer.concat([tag, i64(v.v)]);
    case 'str':
      return Buffer.concat([tag, cstr(v.v)]);
    case 'bytes':
      return Buffer.concat([tag, u32(v.v.length), v.v]);
    case 'strs':
      return Buffer.concat([tag, u32(v.v.length), ...v.v.map(cstr)]);
    case 'ints':
      return Buffer.concat([tag, u32(v.v.length), ...v.v.map(i64)]);
  }
}

/** One op with already-encoded values (lets tests forge malformed ops). */
export function rawOp(code: number, values: Buffer, reserved = 0): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt16LE(code, 0);
  head.writeUInt16LE(reserved, 2);
  head.writeUInt32LE(values.length, 4);
  return Buffer.concat([head, values]);
}

export function encodePlanRaw(ops: Buffer[], magic = 'BRTHPLAN', version = 1): Buffer {
  return Buffer.concat([Buffer.from(magic, 'ascii'), u32(version), u32(ops.length), ...ops]);
}

export function encodePlan(ops: WireOp[]): Buffer {
  return encodePlanRaw(ops.map(([code, ...values]) => rawOp(code, Buffer.concat(values.map(encodeValue)))));
}

export function frame(type: number, payload: Uint8Array = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32LE(type, 0);
  head.writeUInt32LE(payload.length, 4);
  return Buffer.concat([head, payload]);
}

export interface WireFrame {
  type: number;
  payload: Buffer;
}

/** Splits a byte stream into frames; returns the frames and the unconsumed rest. */
export function splitFrames(buf: Buffer): { frames: WireFrame[]; rest: Buffer } {
  const frames: WireFrame[] = [];
  let at = 0;
  while (buf.length - at >= 8) {
    const type = buf.readUInt32LE(at);
    const len = buf.readUInt32LE(at + 4);
    if (buf.length - at - 8 < len) break;
    frames.push({ type, payload: buf.subarray(at + 8, at + 8 + len) });
    at += 8 + len;
  }
  return { frames, rest: buf.subarray(at) };
}
