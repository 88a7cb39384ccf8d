// A small interpreter of classic BPF as the kernel runs seccomp filters, so tests can ask what a
// compiled program answers for a syscall (number, architecture, arguments) without loading it.
// Only what seccomp programs may use: loads of struct seccomp_data (32-bit, absolute), scratch
// memory, ALU, jumps, returns. Anything else throws, so a surprise in libseccomp's output shows.

/** AUDIT_ARCH_* values the filter checks first. */
export const AUDIT_ARCH = {
  x86_64: 0xc000003e,
  i386: 0x40000003,
  aarch64: 0xc00000b7,
  arm: 0x40000028,
} as const;

/** x32 syscalls are x86_64's numbering with this bit set, on AUDIT_ARCH_X86_64. */
export const X32_SYSCALL_BIT = 0x40000000;

export interface SeccompData {
  nr: number;
  arch: number;
  args?: Array<number | bigint>;
  instructionPointer?: bigint;
}

/** struct seccomp_data, little-endian (x86_64 and arm64). */
function encodeData(d: SeccompData): Buffer {
  const b = Buffer.alloc(64);
  b.writeInt32LE(d.nr, 0);
  b.writeUInt32LE(d.arch >>> 0, 4);
  b.writeBigUInt64LE(d.instructionPointer ?? 0n, 8);
  (d.args ?? []).forEach((a, i) => {
    b.writeBigUInt64LE(BigInt.asUintN(64, BigInt(a)), 16 + 8 * i);
  });
  return b;
}

/** Runs `program` (struct sock_filter[]) on `data`; returns the 32-bit SECCOMP_RET_* value. */
export function runSeccompBpf(program: Uint8Array, data: SeccompData): number {
  const prog = Buffer.from(program.buffer, program.byteOffset, program.byteLength);
  if (prog.length === 0 || prog.length % 8 !== 0)
    throw new Error(`a BPF program is a non-empty multiple of 8 bytes, got ${prog.length}`);
  const n = prog.length / 8;
  const mem = new Uint32Array(16);
  const input = encodeData(data);
  let a = 0;
  let x = 0;
  for (let pc = 0, steps = 0; pc < n; pc++, steps++) {
    if (steps > n) throw new Error('BPF: ran longer than the program (classic BPF only jumps forward)');
    const code = prog.readUInt16LE(pc * 8);
    const jt = prog.readUInt8(pc * 8 + 2);
    const jf = prog.readUInt8(pc * 8 + 3);
    const k = prog.readUInt32LE(pc * 8 + 4);
    const cls = code & 0x07;
    const bad = () => new Error(`BPF: unsupported instruction 0x${code.toString(16)} at ${pc}`);
    switch (cls) {
      case 0x00: // LD
      case 0x01: {
        // LDX
        const mode = code & 0xe0;
        let v: number;
        if (mode === 0x00) v = k;
        else if (mode === 0x20 && cls === 0x00 && (code & 0x18) === 0) {
          if (k % 4 !== 0 || k + 4 > input.length) throw new Error(`BPF: load of seccomp_data at ${k}`);
          v = input.readUInt32LE(k);
        } else if (mode === 0x60) v = mem[k & 15]!;
        else if (mode === 0x80) v = input.length;
        else throw bad();
        if (cls === 0x00) a = v >>> 0;
        else x = v >>> 0;
        break;
      }
      case 0x02:
        mem[k & 15] = a;
        break;
      case 0x03:
        mem[k & 15] = x;
        break;
      case 0x04: {
        const src = code & 0x08 ? x : k;
        switch (code & 0xf0) {
          case 0x00:
            a = (a + src) >>> 0;
            break;
          case 0x10:
            a = (a - src) >>> 0;
            break;
          case 0x20:
            a = Math.imul(a, src) >>> 0;
            break;
          case 0x40:
            a = (a | src) >>> 0;
            break;
          case 0x50:
            a = (a & src) >>> 0;
            break;
          case 0x60:
            a = (a << src) >>> 0;
            break;
          case 0x70:
            a = a >>> src;
            break;
          case 0x80:
            a = -a >>> 0;
            break;
          case 0xa0:
            a = (a ^ src) >>> 0;
            break;
          default:
            throw bad();
        }
        break;
      }
      case 0x05: {
        const src = code & 0x08 ? x : k;
        const op = code & 0xf0;
        if (op === 0x00) {
          pc += k;
          break;
        }
        let cond: boolean;
        if (op === 0x10) cond = a === src >>> 0;
        else if (op === 0x20) cond = a > src >>> 0;
        else if (op === 0x30) cond = a >= src >>> 0;
        else if (op === 0x40) cond = (a & src) !== 0;
        else throw bad();
        pc += cond ? jt : jf;
        break;
      }
      case 0x06:
        return (code & 0x18) === 0x10 ? a : k;
      case 0x07:
        if ((code & 0xf8) === 0x00) x = a;
        else if ((code & 0xf8) === 0x80) a = x;
        else throw bad();
        break;
      default:
        throw bad();
    }
  }
  throw new Error('BPF: fell off the end of the program without a return');
}
