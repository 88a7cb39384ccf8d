import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { LinuxDeviceCgroup } from '../oci/runtime-spec.ts';
import { DEVCG_DEV_BLOCK, DEVCG_DEV_CHAR, deviceFilterProgram, OP } from './device-filter.ts';
import {
  ACC_ALL,
  ACC_MKNOD,
  ACC_READ,
  ACC_WRITE,
  defaultDeviceRules,
  deviceAllowed,
  reduceDeviceRules,
  v1DeviceWrites,
} from './device-rules.ts';

// A tiny interpreter for the instructions the generator uses, run on struct bpf_cgroup_dev_ctx,
// so the bytes are checked against the reference semantics (deviceAllowed) without loading them.
function run(program: Uint8Array, type: number, access: number, major: number, minor: number): number {
  const v = new DataView(program.buffer, program.byteOffset, program.byteLength);
  const ctx = [((access << 16) | type) >>> 0, major >>> 0, minor >>> 0];
  const r = new Array<number>(11).fill(0);
  let pc = 0;
  for (let steps = 0; steps < 10_000; steps++) {
    assert.ok(pc >= 0 && pc * 8 < program.length, `pc ${pc} out of the program`);
    const code = v.getUint8(pc * 8);
    const regs = v.getUint8(pc * 8 + 1);
    const dst = regs & 0xf;
    const src = regs >> 4;
    const off = v.getInt16(pc * 8 + 2, true);
    const imm = v.getInt32(pc * 8 + 4, true);
    const u32 = (x: number) => x >>> 0;
    pc++;
    switch (code) {
      case OP.LDXW:
        assert.equal(src, 1, 'loads only from the context');
        assert.equal(off % 4, 0);
        assert.equal(imm, 0, 'a load takes its offset in off, not imm');
        r[dst] = ctx[off / 4]!;
        break;
      case OP.AND32K:
        r[dst] = u32(r[dst]! & imm);
        break;
      case OP.RSH32K:
        r[dst] = u32(r[dst]!) >>> imm;
        break;
      case OP.MOV32X:
        r[dst] = u32(r[src]!);
        break;
      case OP.MOV64K:
        r[dst] = imm;
        break;
      case OP.JNE32K:
        if (u32(r[dst]!) !== u32(imm)) pc += off;
        break;
      case OP.JEQ32K:
        if (u32(r[dst]!) === u32(imm)) pc += off;
        break;
      case OP.JSET32K:
        if ((u32(r[dst]!) & u32(imm)) !== 0) pc += off;
        break;
      case OP.EXIT:
        return r[0]!;
      default:
        assert.fail(`unknown opcode 0x${code.toString(16)}`);
    }
  }
  assert.fail('program did not exit');
}

const ACCESSES = [ACC_READ, ACC_WRITE, ACC_MKNOD, ACC_READ | ACC_WRITE, ACC_READ | ACC_MKNOD, ACC_ALL];
const DEVICES: Array<['c' | 'b', number, number]> = [
  ['c', 1, 3],
  ['c', 1, 9],
  ['c', 10, 229],
  ['c', 10, 200],
  ['c', 136, 4],
  ['c', 5, 2],
  ['b', 8, 0],
  ['b', 8, 16],
  ['b', 254, 1],
  ['c', 4026531839, 3000000000],
];

function agree(rules: LinuxDeviceCgroup[]): void {
  const state = reduceDeviceRules(rules);
  const prog = deviceFilterProgram(rules);
  assert.equal(prog.length % 8, 0);
  for (const [t, maj, min] of DEVICES) {
    for (const acc of ACCESSES) {
      const want = deviceAllowed(state, t, maj, min, acc) ? 1 : 0;
      const got = run(prog, t === 'b' ? DEVCG_DEV_BLOCK : DEVCG_DEV_CHAR, acc, maj, min);
      assert.equal(got, want, `${t} ${maj}:${min} access ${acc} with ${JSON.stringify(rules)}`);
    }
  }
}

const DOCKER_LIKE: LinuxDeviceCgroup[] = [
  { allow: false, access: 'rwm' },
  { allow: true, type: 'c', major: 10, minor: 229, access: 'rwm' }, // /dev/fuse, allowed by the config
  ...defaultDeviceRules([{ path: '/dev/fuse', type: 'c', major: 10, minor: 229 }]),
];

test('defaults: a device of linux.devices gets no rule of its own; one replacing a default device drops its rule (runc)', () => {
  const rules = defaultDeviceRules([
    { path: '/dev/fuse', type: 'c', major: 10, minor: 229 },
    { path: '/dev/null', type: 'c', major: 1, minor: 5 },
  ]);
  const s = reduceDeviceRules([{ allow: false, access: 'rwm' }, ...rules]);
  assert.equal(deviceAllowed(s, 'c', 10, 229, ACC_READ), false, 'the config did not allow /dev/fuse');
  assert.equal(deviceAllowed(s, 'c', 1, 3, ACC_READ), false, "/dev/null's default rule went with it");
  assert.equal(deviceAllowed(s, 'c', 1, 5, ACC_READ), true, '/dev/zero keeps its default');
  assert.equal(defaultDeviceRules().length, rules.length + 1);
});

test('reduce: deny-all then allows gives exceptions under deny', () => {
  const s = reduceDeviceRules(DOCKER_LIKE);
  assert.equal(s.defaultAllow, false);
  assert.equal(deviceAllowed(s, 'c', 1, 3, ACC_READ | ACC_WRITE), true);
  assert.equal(deviceAllowed(s, 'c', 10, 229, ACC_READ), true);
  assert.equal(deviceAllowed(s, 'c', 10, 200, ACC_READ), false);
  assert.equal(deviceAllowed(s, 'b', 8, 0, ACC_MKNOD), true, 'mknod of any block device (docker default)');
  assert.equal(deviceAllowed(s, 'b', 8, 0, ACC_READ), false);
  assert.equal(deviceAllowed(s, 'c', 136, 7, ACC_ALL), true, 'pts: any minor');
});

test('reduce: later deny removes access from an earlier allow; allow-all with deny exceptions', () => {
  let s = reduceDeviceRules([
    { allow: false, access: 'rwm' },
    { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
    { allow: false, type: 'c', major: 1, minor: 3, access: 'w' },
  ]);
  assert.equal(deviceAllowed(s, 'c', 1, 3, ACC_READ), true);
  assert.equal(deviceAllowed(s, 'c', 1, 3, ACC_WRITE), false);
  assert.equal(deviceAllowed(s, 'c', 1, 3, ACC_READ | ACC_WRITE), false);
  s = reduceDeviceRules([
    { allow: true, type: 'b', major: 8, access: 'rw' },
    { allow: false, type: 'b', major: 8, minor: 0, access: 'w' },
  ]);
  assert.equal(s.defaultAllow, true);
  assert.equal(deviceAllowed(s, 'b', 8, 0, ACC_WRITE), false);
  assert.equal(deviceAllowed(s, 'b', 8, 0, ACC_READ | ACC_WRITE), false, 'any overlap denies');
  assert.equal(deviceAllowed(s, 'b', 8, 16, ACC_WRITE), true);
  // A final reset wins over everything before it.
  s = reduceDeviceRules([...DOCKER_LIKE, { allow: true, access: 'rwm' }]);
  assert.deepEqual(s, { defaultAllow: true, exceptions: [] });
});

test('BPF program agrees with the reference semantics', () => {
  agree(DOCKER_LIKE);
  agree([]);
  agree([{ allow: false, access: 'rwm' }]);
  agree([
    { allow: false, type: 'c', major: 10, access: 'rw' },
    { allow: false, type: 'b', minor: 16, access: 'm' },
  ]);
  agree([
    { allow: false },
    { allow: true, major: 4026531839, minor: 3000000000, access: 'r' },
    { allow: true, type: 'c', major: 1, access: 'rm' },
  ]);
  agree([
    { allow: false },
    { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
    { allow: false, type: 'c', major: 1, minor: 3, access: 'w' },
  ]);
});

test('BPF program: deny-all is a fixed, minimal program', () => {
  const p = deviceFilterProgram([{ allow: false, access: 'rwm' }]);
  assert.equal(p.length / 8, 8, '6 context loads + mov r0,0 + exit');
  assert.equal(run(p, DEVCG_DEV_CHAR, ACC_READ, 1, 3), 0);
  assert.equal(run(deviceFilterProgram([]), DEVCG_DEV_BLOCK, ACC_ALL, 8, 0), 1);
});

test('v1: rules in order, resets as "a", type-less narrow rules for both c and b', () => {
  assert.deepEqual(
    v1DeviceWrites([
      { allow: false, access: 'rwm' },
      { allow: true, type: 'c', major: 136, access: 'rwm' },
      { allow: true, major: 7, minor: 0, access: 'r' },
      { allow: false, type: 'b', minor: 2 },
      { allow: true },
    ]).map((w) => `${w.file} ${w.value}`),
    [
      'devices.deny a',
      'devices.allow c 136:* rwm',
      'devices.allow c 7:0 r',
      'devices.allow b 7:0 r',
      'devices.deny b *:2 rwm',
      'devices.allow a',
    ],
  );
});
