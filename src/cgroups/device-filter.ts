// The cgroup v2 device filter: an eBPF program of type BPF_PROG_TYPE_CGROUP_DEVICE generated from the
// spec's device rules. cgroup v2 has no devices.allow; the kernel instead runs a program attached to
// the cgroup for every device access and allows it when the program returns 1.
// Owns: the instructions, as bytes (struct bpf_insn, 8 bytes each, little-endian), and the
// constants needed to load them. Pure: loading needs bpf(2) (BPF_PROG_LOAD, then BPF_PROG_ATTACH with
// BPF_CGROUP_DEVICE on the cgroup's directory fd), which lives in native code, not here.
// Never: decides policy beyond what reduceDeviceRules says.
//
// The program reads struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; } where
// access_type = (access << 16) | type, type being BPF_DEVCG_DEV_BLOCK (1) or _CHAR (2) and access
// a mask of BPF_DEVCG_ACC_MKNOD (1), _READ (2), _WRITE (4).

import type { LinuxDeviceCgroup } from '../oci/runtime-spec.ts';
import { ACC_ALL, type DeviceState, reduceDeviceRules } from './device-rules.ts';

export const BPF_PROG_TYPE_CGROUP_DEVICE = 15;
export const BPF_CGROUP_DEVICE = 6;
export const BPF_F_ALLOW_MULTI = 2;
export const DEVICE_FILTER_LICENSE = 'Apache';
export const DEVCG_DEV_BLOCK = 1;
export const DEVCG_DEV_CHAR = 2;

export interface BpfInsn {
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
}

// Opcodes used (class | op | source). JMP32 compares the low 32 bits, so majors and minors above
// 2^31 compare correctly (a 64-bit JMP would sign-extend the immediate).
export const OP = {
  LDXW: 0x61, // BPF_LDX | BPF_MEM | BPF_W
  AND32K: 0x54, // BPF_ALU | BPF_AND | BPF_K
  RSH32K: 0x74, // BPF_ALU | BPF_RSH | BPF_K
  MOV32X: 0xbc, // BPF_ALU | BPF_MOV | BPF_X
  MOV64K: 0xb7, // BPF_ALU64 | BPF_MOV | BPF_K
  JNE32K: 0x56, // BPF_JMP32 | BPF_JNE | BPF_K
  JEQ32K: 0x16, // BPF_JMP32 | BPF_JEQ | BPF_K
  JSET32K: 0x46, // BPF_JMP32 | BPF_JSET | BPF_K
  EXIT: 0x95, // BPF_JMP | BPF_EXIT
} as const;

const ins = (code: number, dst: number, src: number, off: number, imm: number): BpfInsn => ({
  code,
  dst,
  src,
  off,
  imm,
});

/** The instructions for a reduced device state. */
export function deviceFilterInstructions(state: DeviceState): BpfInsn[] {
  const out: BpfInsn[] = [
    ins(OP.LDXW, 2, 1, 0, 0), // r2 = access_type
    ins(OP.AND32K, 2, 0, 0, 0xffff), // r2 = device type
    ins(OP.LDXW, 3, 1, 0, 0),
    ins(OP.RSH32K, 3, 0, 0, 16), // r3 = requested access
    ins(OP.LDXW, 4, 1, 4, 0), // r4 = major
    ins(OP.LDXW, 5, 1, 8, 0), // r5 = minor
  ];
  // Each exception is a block that falls through to the next one on any mismatch. Under deny-all the
  // exceptions allow, under allow-all they deny, so a match returns the opposite of the default.
  const verdict = state.defaultAllow ? 0 : 1;
  for (const e of state.exceptions) {
    const block: Array<BpfInsn | 'skip'> = [];
    const skip = (code: number, dst: number, imm: number) => block.push(ins(code, dst, 0, 0, imm), 'skip');
    skip(OP.JNE32K, 2, e.type === 'b' ? DEVCG_DEV_BLOCK : DEVCG_DEV_CHAR);
    if (e.access !== ACC_ALL) {
      if (state.defaultAllow) {
        // Deny on any overlap with the exception's access: skip when (access & ex) == 0.
        block.push(ins(OP.MOV32X, 1, 3, 0, 0), ins(OP.AND32K, 1, 0, 0, e.access));
        skip(OP.JEQ32K, 1, 0);
      } else {
        // Allow only when every requested bit is in the exception: skip when access has another bit.
        skip(OP.JSET32K, 3, ACC_ALL & ~e.access);
      }
    }
    if (e.major !== undefined) skip(OP.JNE32K, 4, e.major | 0);
    if (e.minor !== undefined) skip(OP.JNE32K, 5, e.minor | 0);
    block.push(ins(OP.MOV64K, 0, 0, 0, verdict), ins(OP.EXIT, 0, 0, 0, 0));
    const real = block.filter((b): b is BpfInsn => b !== 'skip');
    // A jump's offset counts instructions after the jump; every jump here goes to the end of the block.
    let idx = 0;
    for (let i = 0; i < block.length; i++) {
      const b = block[i];
      if (b === undefined || b === 'skip') continue;
      if (block[i + 1] === 'skip') b.off = real.length - (idx + 1);
      idx++;
    }
    out.push(...real);
  }
  out.push(ins(OP.MOV64K, 0, 0, 0, state.defaultAllow ? 1 : 0), ins(OP.EXIT, 0, 0, 0, 0));
  return out;
}

/** struct bpf_insn[] as the kernel takes it. */
export function encodeInstructions(insns: BpfInsn[]): Uint8Array {
  const buf = new Uint8Array(insns.length * 8);
  const view = new DataView(buf.buffer);
  insns.forEach((x, i) => {
    view.setUint8(i * 8, x.code);
    view.setUint8(i * 8 + 1, (x.dst & 0xf) | ((x.src & 0xf) << 4));
    view.setInt16(i * 8 + 2, x.off, true);
    view.setInt32(i * 8 + 4, x.imm | 0, true);
  });
  return buf;
}

/** The device filter program for a rule list, ready for BPF_PROG_LOAD. */
export function deviceFilterProgram(rules: LinuxDeviceCgroup[]): Uint8Array {
  return encodeInstructions(deviceFilterInstructions(reduceDeviceRules(rules)));
}
