// The plan: the list of operations that native/berth-init executes, and its binary encoding.
// This module owns the TypeScript side of docs/plan-protocol.md; it must stay byte-for-byte in
// step with native/plan.c. It encodes only: every decision (which op, which path, which flags)
// is made by the plan builder in src/runtime.

import { internal, invalidArgument } from '../errors/errors.ts';

export const PLAN_MAGIC = 'BRTHPLAN';
export const PLAN_VERSION = 1;

/** Op codes, grouped by who runs them: 0x01xx stage0 before clone, 0x02xx stage0 after clone, 0x03xx the child. */
export const Op = {
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
  MOUNT_SETATTR: 0x0321,
  OPEN_PATH: 0x0322,
} as const;
export type OpName = keyof typeof Op;

/** Frame types on the sync socket. */
export const Frame = {
  PLAN: 1,
  CONTINUE: 2,
  ABORT: 3,
  PID: 100,
  HOOKS: 101,
  READY: 102,
  ERROR: 103,
  /** An ERROR of the container's command itself (its RESOLVE_EXEC or EXEC op). */
  EXEC_ERROR: 104,
} as const;

/** MOUNT `how` bits. */
export const MountHow = {
  IN_ROOT: 0x1,
  MKDIR: 0x2,
  MKFILE: 0x4,
  VIA_FD: 0x8,
  SOURCE_IN_ROOT: 0x10,
  /** The target's last component must not be a symlink (proc, sysfs): ELOOP otherwise. */
  NO_SYMLINK: 0x20,
} as const;

/** Plan mode (MODE op). */
export const PlanMode = { create: 0, foreground: 1 } as const;

/** A value of an op, tagged as on the wire. */
export type Value =
  | { t: 'int'; v: number | bigint }
  | { t: 'str'; v: string }
  | { t: 'bytes'; v: Uint8Array }
  | { t: 'strs'; v: string[] }
  | { t: 'ints'; v: Array<number | bigint> };

export interface PlanOp {
  readonly op: OpName;
  readonly values: readonly Value[];
}

export const int = (v: number | bigint): Value => ({ t: 'int', v });
export const str = (v: string): Value => ({ t: 'str', v });
export const bytes = (v: Uint8Array): Value => ({ t: 'bytes', v });
export const strs = (v: string[]): Value => ({ t: 'strs', v });
export const ints = (v: Array<number | bigint>): Value => ({ t: 'ints', v });

export function op(name: OpName, ...values: Value[]): PlanOp {
  return { op: name, values };
}

const TAG = { int: 1, str: 2, bytes: 3, strs: 4, ints: 5 } as const;

/** A growable little-endian byte writer: the plan is built once per container, so simple beats clever. */
class Writer {
  private buf = Buffer.allocUnsafe(4096);
  private len = 0;

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }
  u8(v: number): void {
    this.ensure(1);
    this.buf.writeUInt8(v, this.len);
    this.len += 1;
  }
  u16(v: number): void {
    this.ensure(2);
    this.buf.writeUInt16LE(v, this.len);
    this.len += 2;
  }
  u32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32LE(v, this.len);
    this.len += 4;
  }
  i64(v: number | bigint): void {
    this.ensure(8);
    this.buf.writeBigInt64LE(BigInt(v), this.len);
    this.len += 8;
  }
  raw(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }
  cstr(s: string, where: string): void {
    const b = Buffer.from(s, 'utf8');
    if (b.includes(0)) throw invalidArgument(`plan: ${where}: string contains a NUL byte; expected a C string`);
    this.u32(b.length);
    this.raw(b);
    this.u8(0);
  }
  get position(): number {
    return this.len;
  }
  patchU32(at: number, v: number): void {
    this.buf.writeUInt32LE(v, at);
  }
  done(): Buffer {
    return this.buf.subarray(0, this.len);
  }
}

/** Encodes a plan (docs/plan-protocol.md, "Plan encoding"). */
export function encodePlan(ops: readonly PlanOp[]): Buffer {
  const w = new Writer();
  w.raw(Buffer.from(PLAN_MAGIC, 'ascii'));
  w.u32(PLAN_VERSION);
  w.u32(ops.length);
  ops.forEach((o, i) => {
    const where = `op ${i} (${o.op})`;
    w.u16(Op[o.op]);
    w.u16(0);
    const lenAt = w.position;
    w.u32(0);
    const start = w.position;
    for (const v of o.values) {
      w.u8(TAG[v.t]);
      switch (v.t) {
        case 'int':
          w.i64(v.v);
          break;
        case 'str':
          w.cstr(v.v, where);
          break;
        case 'bytes':
          w.u32(v.v.length);
          w.raw(v.v);
          break;
        case 'strs':
          w.u32(v.v.length);
          for (const s of v.v) w.cstr(s, where);
          break;
        case 'ints':
          w.u32(v.v.length);
          for (const n of v.v) w.i64(n);
          break;
      }
    }
    w.patchU32(lenAt, w.position - start);
  });
  return w.done();
}

/** One frame on the sync socket. */
export function encodeFrame(type: number, payload: Uint8Array = new Uint8Array(0)): Buffer {
  const head = Buffer.allocUnsafe(8);
  head.writeUInt32LE(type, 0);
  head.writeUInt32LE(payload.length, 4);
  return Buffer.concat([head, payload]);
}

export interface DecodedFrame {
  type: number;
  payload: Buffer;
}

const MAX_FRAME = 16 * 1024 * 1024;

/** Incremental frame decoder for a byte stream. */
export class FrameReader {
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): DecodedFrame[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const out: DecodedFrame[] = [];
    while (this.pending.length >= 8) {
      const type = this.pending.readUInt32LE(0);
      const len = this.pending.readUInt32LE(4);
      if (len > MAX_FRAME)
        throw internal(
          `sync socket: frame of ${len} bytes from berth-init exceeds ${MAX_FRAME}: the stream is out of step`,
        );
      if (this.pending.length < 8 + len) break;
      out.push({ type, payload: this.pending.subarray(8, 8 + len) });
      this.pending = this.pending.subarray(8 + len);
    }
    return out;
  }

  get buffered(): number {
    return this.pending.length;
  }
}

/** Renders a plan as text, one op per line: for --debug logs and readable test failures. */
export function formatPlan(ops: readonly PlanOp[]): string {
  return ops
    .map((o) => {
      const vals = o.values.map((v) => {
        switch (v.t) {
          case 'int':
            // Small numbers (counts, ids, modes in octal are rare) read best in decimal, flags and masks in hex.
            return v.v >= 256 || v.v <= -256 ? `0x${v.v.toString(16)}` : String(v.v);
          case 'str':
            return JSON.stringify(v.v);
          case 'bytes':
            return `<${v.v.length} bytes>`;
          case 'strs':
            return JSON.stringify(v.v);
          case 'ints':
            return `[${v.v.join(',')}]`;
        }
        return '';
      });
      return `${o.op}(${vals.join(', ')})`;
    })
    .join('\n');
}
