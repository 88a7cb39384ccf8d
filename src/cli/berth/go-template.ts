// Go's text/template, the subset docker's CLI users type in `--format`: written here because no
// maintained npm package implements it (go-text-template 0.2.2 has no pipelines, variables, range
// over maps or custom functions; go-text-template-napi needs Go at build time).
//
// Supported, with Go's semantics: text and actions with trim markers (`{{- x -}}`) and comments;
// pipelines (`a | f b`) with parenthesised sub-pipelines; fields (`.A.B`, `$x.A`, `(p).A`); variables
// (`$x := p`, `$x = p`, `$` the root); literals (strings "…" and `…`, numbers, true, false, nil);
// if / else if / else / end, range (arrays and maps, `$i, $v :=`, else), with / else; the builtins
// and, or, not, len, index, slice, eq, ne, lt, le, gt, ge, print, printf, println; and docker's
// json, join, split, lower, upper, title, truncate, pad. Not supported (an error names them):
// define, template, block, break, continue.
//
// Data: a plain object is a Go struct (a missing field is an error, as Go says "can't evaluate
// field"), unless marked with goMap() or a JS Map: then it is a map (a missing key is `<no value>`,
// range goes by sorted key). A function-valued field is a method: called with the arguments.
// Errors are InvalidArgument BerthErrors worded as Go's (`template: :1:5: …`).
import { invalidArgument } from '../../errors/errors.ts';

const maps = new WeakSet<object>();
/** Marks a plain object as a Go map (missing keys print `<no value>`; range in key order). */
export function goMap<T extends object>(o: T): T {
  maps.add(o);
  return o;
}
const isMap = (v: unknown): v is Record<string, unknown> | Map<string, unknown> =>
  v instanceof Map || (typeof v === 'object' && v !== null && maps.has(v));
const NO_VALUE = Symbol('no value');

type Pos = { line: number; col: number };
type Tok = {
  t: 'field' | 'var' | 'ident' | 'str' | 'num' | 'dot' | 'pipe' | 'lp' | 'rp' | 'decl' | 'assign' | 'comma';
  v: string;
  pos: Pos;
};

type Node =
  | { k: 'text'; v: string }
  | { k: 'action'; pipe: Pipe; pos: Pos }
  | { k: 'if' | 'with'; pipe: Pipe; list: Node[]; else: Node[] | undefined; pos: Pos }
  | { k: 'range'; pipe: Pipe; list: Node[]; else: Node[] | undefined; pos: Pos };
type Pipe = { decl: string[]; assign: boolean; cmds: Arg[][]; pos: Pos };
type Arg =
  | { k: 'field'; base: Arg | undefined; names: string[] } // base undefined: dot
  | { k: 'var'; name: string; names: string[] }
  | { k: 'dot' }
  | { k: 'ident'; name: string }
  | { k: 'lit'; v: unknown }
  | { k: 'pipe'; pipe: Pipe; names: string[] };

const fail = (pos: Pos | undefined, msg: string): never => {
  throw invalidArgument(`template: ${pos ? `:${pos.line}:${pos.col}: ` : ''}${msg}`);
};

// ------------------------------------------------------------------ lexer

type Chunk = { text: string } | { action: Tok[]; pos: Pos; raw: string };

function posAt(src: string, i: number): Pos {
  const before = src.slice(0, i);
  const nl = before.lastIndexOf('\n');
  return { line: before.split('\n').length, col: i - nl - 1 };
}

function lex(src: string): Chunk[] {
  const out: Chunk[] = [];
  let i = 0;
  let trimNext = false;
  while (i < src.length) {
    const open = src.indexOf('{{', i);
    let text = open < 0 ? src.slice(i) : src.slice(i, open);
    if (trimNext) text = text.replace(/^\s+/, '');
    trimNext = false;
    if (open < 0) {
      if (text) out.push({ text });
      break;
    }
    let j = open + 2;
    if (src.startsWith('- ', j) || src.startsWith('-\t', j) || src.startsWith('-\n', j)) {
      text = text.replace(/\s+$/, '');
      j += 1;
    }
    if (text) out.push({ text });
    const pos = posAt(src, open);
    // A comment: {{/* … */}}, with optional trim markers.
    const afterWs = src.slice(j).match(/^\s*/)![0].length;
    if (src.startsWith('/*', j + afterWs)) {
      const end = src.indexOf('*/', j + afterWs + 2);
      if (end < 0) fail(pos, 'unclosed comment');
      const close = src.slice(end + 2).match(/^\s*(-\s*)?}}/);
      if (!close) fail(pos, 'comment ends before closing delimiter');
      trimNext = close![1] !== undefined;
      i = end + 2 + close![0].length;
      continue;
    }
    const { toks, end, trim } = lexAction(src, j, pos);
    out.push({ action: toks, pos, raw: src.slice(open, end) });
    trimNext = trim;
    i = end;
  }
  return out;
}

function lexAction(src: string, start: number, pos: Pos): { toks: Tok[]; end: number; trim: boolean } {
  const toks: Tok[] = [];
  let i = start;
  const at = () => posAt(src, i);
  for (;;) {
    if (i >= src.length) fail(pos, 'unclosed action');
    const c = src[i]!;
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      // ` -}}` trims the text after the action.
      if (src.startsWith(' -}}', i) || src.startsWith('\t-}}', i) || src.startsWith('\n-}}', i))
        return { toks, end: i + 4, trim: true };
      i++;
      continue;
    }
    if (src.startsWith('}}', i)) return { toks, end: i + 2, trim: false };
    const p = at();
    if (c === '|') {
      toks.push({ t: 'pipe', v: c, pos: p });
      i++;
    } else if (c === '(') {
      toks.push({ t: 'lp', v: c, pos: p });
      i++;
    } else if (c === ')') {
      toks.push({ t: 'rp', v: c, pos: p });
      i++;
    } else if (c === ',') {
      toks.push({ t: 'comma', v: c, pos: p });
      i++;
    } else if (src.startsWith(':=', i)) {
      toks.push({ t: 'decl', v: ':=', pos: p });
      i += 2;
    } else if (c === '=') {
      toks.push({ t: 'assign', v: '=', pos: p });
      i++;
    } else if (c === '"') {
      let j = i + 1;
      while (j < src.length && src[j] !== '"') {
        if (src[j] === '\\') j++;
        if (src[j] === '\n') fail(p, 'unterminated quoted string');
        j++;
      }
      if (j >= src.length) fail(p, 'unterminated quoted string');
      const raw = src.slice(i, j + 1);
      let v: string;
      try {
        // Go takes a raw tab (or other control character but newline) inside quotes; JSON does not.
        const esc = raw
          .replace(/\\'/g, "'")
          .replace(/\\x([0-9a-fA-F]{2})/g, '\\u00$1')
          .replace(/[\u0000-\u001f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
        v = JSON.parse(esc) as string;
      } catch {
        v = fail(p, `bad quoted string ${raw}`);
      }
      toks.push({ t: 'str', v, pos: p });
      i = j + 1;
    } else if (c === '`') {
      const j = src.indexOf('`', i + 1);
      if (j < 0) fail(p, 'unterminated raw quoted string');
      toks.push({ t: 'str', v: src.slice(i + 1, j), pos: p });
      i = j + 1;
    } else if (c === "'") {
      const m = /^'(\\.|[^\\'])'/.exec(src.slice(i));
      if (!m) fail(p, 'bad character constant');
      const ch = m![1]!.length === 2 ? (JSON.parse(`"${m![1]}"`) as string) : m![1]!;
      toks.push({ t: 'num', v: String(ch.codePointAt(0)), pos: p });
      i += m![0].length;
    } else if (c === '.' || c === '$') {
      const m = /^(\$[A-Za-z0-9_]*|)((?:\.[A-Za-z_][A-Za-z0-9_]*)*)/.exec(src.slice(i))!;
      if (m[0] === '' || (c === '.' && m[0] === '')) {
        toks.push({ t: 'dot', v: '.', pos: p });
        i++;
      } else if (m[1]) {
        toks.push({ t: 'var', v: m[0], pos: p });
        i += m[0].length;
      } else {
        toks.push({ t: 'field', v: m[0], pos: p });
        i += m[0].length;
      }
    } else if (/[-+0-9]/.test(c)) {
      const m = /^[-+]?(0x[0-9a-fA-F_]+|0o?[0-7_]+|0b[01_]+|(\d[\d_]*)?\.?\d*(?:[eE][-+]?\d+)?)/.exec(src.slice(i));
      if (!m || m[0] === '' || m[0] === '-' || m[0] === '+')
        fail(p, `bad number syntax: ${JSON.stringify(src.slice(i, i + 10))}`);
      toks.push({ t: 'num', v: m![0], pos: p });
      i += m![0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i))!;
      toks.push({ t: 'ident', v: m[0], pos: p });
      i += m[0].length;
    } else fail(p, `unexpected ${JSON.stringify(c)} in command`);
  }
}

// ------------------------------------------------------------------ parser

class Parser {
  private ci = 0;
  private chunks: Chunk[];
  constructor(chunks: Chunk[]) {
    this.chunks = chunks;
  }

  parse(): Node[] {
    const { list, end } = this.list();
    if (end) fail(end.pos, `unexpected {{${end.word}}}`);
    return list;
  }

  /** Nodes up to an {{end}} or {{else …}} (returned as `end`), or the end of input. */
  private list(): { list: Node[]; end?: { word: 'end' | 'else'; toks: Tok[]; pos: Pos } } {
    const list: Node[] = [];
    while (this.ci < this.chunks.length) {
      const c = this.chunks[this.ci++]!;
      if ('text' in c) {
        list.push({ k: 'text', v: c.text });
        continue;
      }
      const [first, ...rest] = c.action;
      if (!first) fail(c.pos, 'missing value for command');
      if (first!.t === 'ident') {
        switch (first!.v) {
          case 'end':
            if (rest.length) fail(c.pos, 'unexpected token in end');
            return { list, end: { word: 'end', toks: rest, pos: c.pos } };
          case 'else':
            return { list, end: { word: 'else', toks: rest, pos: c.pos } };
          case 'if':
          case 'with':
          case 'range':
            list.push(this.control(first!.v, rest, c.pos));
            continue;
          case 'define':
          case 'template':
          case 'block':
          case 'break':
          case 'continue':
            fail(c.pos, `{{${first!.v}}} is not supported by berth's templates`);
        }
      }
      list.push({ k: 'action', pipe: pipeline(c.action, c.pos, false), pos: c.pos });
    }
    return { list };
  }

  private control(word: 'if' | 'with' | 'range', toks: Tok[], pos: Pos): Node {
    const pipe = pipeline(toks, pos, word === 'range');
    if (!pipe.cmds.length) fail(pos, `missing value for ${word}`);
    const body = this.list();
    if (!body.end) fail(pos, `unexpected EOF: {{${word}}} without {{end}}`);
    let elseList: Node[] | undefined;
    if (body.end!.word === 'else') {
      const t = body.end!.toks;
      if (t.length && t[0]!.t === 'ident' && (t[0]!.v === 'if' || t[0]!.v === 'with') && word !== 'range') {
        // `{{else if p}}`: the rest of the chain is one nested node that consumes the {{end}}.
        elseList = [this.control(t[0]!.v as 'if' | 'with', t.slice(1), body.end!.pos)];
      } else {
        if (t.length) fail(body.end!.pos, 'unexpected token after else');
        const e = this.list();
        if (e.end?.word !== 'end') fail(pos, `expected {{end}} of {{${word}}}`);
        elseList = e.list;
      }
    }
    return { k: word, pipe, list: body.list, else: elseList, pos };
  }
}

function pipeline(toks: Tok[], pos: Pos, range: boolean): Pipe {
  let i = 0;
  const decl: string[] = [];
  let assign = false;
  // Declarations: `$x :=`, `$x =`, and range's `$i, $v :=`.
  const look = toks.findIndex((t) => t.t === 'decl' || t.t === 'assign');
  if (
    look > 0 &&
    toks.slice(0, look).every((t, k) => (k % 2 === 0 ? t.t === 'var' && !t.v.includes('.') : t.t === 'comma'))
  ) {
    for (let k = 0; k < look; k += 2) decl.push(toks[k]!.v);
    if (decl.length > (range ? 2 : 1)) fail(pos, 'too many declarations');
    assign = toks[look]!.t === 'assign';
    i = look + 1;
  }
  const cmds: Arg[][] = [];
  let cmd: Arg[] = [];
  const stack: { cmds: Arg[][]; cmd: Arg[]; pos: Pos }[] = [];
  for (; i < toks.length; i++) {
    const t = toks[i]!;
    switch (t.t) {
      case 'pipe':
        if (!cmd.length) fail(t.pos, 'missing command before |');
        cmds.push(cmd);
        cmd = [];
        break;
      case 'lp':
        stack.push({ cmds: [...cmds], cmd, pos: t.pos });
        cmds.length = 0;
        cmd = [];
        break;
      case 'rp': {
        const top = stack.pop();
        if (!top) fail(t.pos, 'unexpected right paren');
        if (cmd.length) cmds.push(cmd);
        if (!cmds.length) fail(t.pos, 'missing value in parenthesised pipeline');
        const inner: Pipe = { decl: [], assign: false, cmds: [...cmds], pos: top!.pos };
        cmds.length = 0;
        cmds.push(...top!.cmds);
        cmd = top!.cmd;
        // A field chain right after the paren: `(index . 0).Name`.
        const next = toks[i + 1];
        let names: string[] = [];
        if (next && next.t === 'field' && next.pos.col === t.pos.col + 1 && next.pos.line === t.pos.line) {
          names = next.v.split('.').slice(1);
          i++;
        }
        cmd.push({ k: 'pipe', pipe: inner, names });
        break;
      }
      case 'field':
        cmd.push({ k: 'field', base: undefined, names: t.v.split('.').slice(1) });
        break;
      case 'var': {
        const [name, ...names] = t.v.split('.');
        cmd.push({ k: 'var', name: name!, names });
        break;
      }
      case 'dot':
        cmd.push({ k: 'dot' });
        break;
      case 'str':
        cmd.push({ k: 'lit', v: t.v });
        break;
      case 'num': {
        const n = Number(
          t.v
            .replace(/_/g, '')
            .replace(/^([-+]?)0o/, '$10o')
            .replace(/^([-+]?)0([0-7]+)$/, '$10o$2'),
        );
        if (Number.isNaN(n)) fail(t.pos, `bad number syntax: ${t.v}`);
        cmd.push({ k: 'lit', v: n });
        break;
      }
      case 'ident':
        if (t.v === 'true' || t.v === 'false') cmd.push({ k: 'lit', v: t.v === 'true' });
        else if (t.v === 'nil') cmd.push({ k: 'lit', v: null });
        else if (['if', 'else', 'end', 'range', 'with', 'define', 'template', 'block'].includes(t.v))
          fail(t.pos, `unexpected ${t.v} in command`);
        else cmd.push({ k: 'ident', name: t.v });
        break;
      default:
        fail(t.pos, `unexpected ${JSON.stringify(t.v)} in command`);
    }
  }
  if (stack.length) fail(stack[0]!.pos, 'unclosed left paren');
  if (cmd.length) cmds.push(cmd);
  else if (cmds.length) fail(pos, 'missing command after |');
  return { decl, assign, cmds, pos };
}

// ------------------------------------------------------------------ values as Go prints them

/** A value as Go's fmt prints it with %v. */
export function goString(v: unknown): string {
  if (v === NO_VALUE || v === undefined) return '<no value>';
  if (v === null) return '<nil>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number')
    return Number.isInteger(v) || !Number.isFinite(v)
      ? Number.isFinite(v)
        ? String(v)
        : v > 0
          ? '+Inf'
          : Number.isNaN(v)
            ? 'NaN'
            : '-Inf'
      : goFloat(v);
  if (typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map(goString).join(' ')}]`;
  if (v instanceof Map)
    return `map[${[...v.keys()]
      .sort()
      .map((k) => `${k}:${goString(v.get(k))}`)
      .join(' ')}]`;
  if (typeof v === 'function') return '<func>';
  if (typeof v === 'object') {
    if (isMap(v))
      return `map[${Object.keys(v)
        .sort()
        .map((k) => `${k}:${goString((v as Record<string, unknown>)[k])}`)
        .join(' ')}]`;
    return `{${Object.values(v).map(goString).join(' ')}}`;
  }
  return String(v);
}

/** %v of a float64: the shortest representation, exponent form from 1e21 (as strconv 'g' with -1). */
function goFloat(v: number): string {
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-4 || a >= 1e21)) return v.toExponential().replace(/e([-+])(\d)$/, 'e$10$2');
  return String(v);
}

function truth(v: unknown): boolean {
  if (v === NO_VALUE || v === undefined || v === null) return false;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'string') return v !== '';
  if (Array.isArray(v)) return v.length > 0;
  if (v instanceof Map) return v.size > 0;
  if (isMap(v)) return Object.keys(v).length > 0;
  return true;
}

const typeName = (v: unknown) =>
  v === null || v === NO_VALUE || v === undefined
    ? 'nil'
    : Array.isArray(v)
      ? 'slice'
      : isMap(v)
        ? 'map'
        : typeof v === 'object'
          ? 'struct'
          : typeof v === 'number'
            ? Number.isInteger(v)
              ? 'int'
              : 'float64'
            : typeof v === 'boolean'
              ? 'bool'
              : typeof v;

// ------------------------------------------------------------------ functions

type Fn = (...a: unknown[]) => unknown;

function printf(format: string, ...args: unknown[]): string {
  let ai = 0;
  return (
    format.replace(
      /%([-+ 0#]*)(\d+|\*)?(?:\.(\d+|\*))?([a-zA-Z%])/g,
      (whole, flags: string, width: string | undefined, prec: string | undefined, verb: string) => {
        if (verb === '%') return '%';
        if (width === '*') width = String(args[ai++]);
        if (prec === '*') prec = String(args[ai++]);
        if (ai >= args.length) return `%!${verb}(MISSING)`;
        const a = args[ai++];
        let s: string;
        switch (verb) {
          case 'v':
          case 's':
            s = goString(a);
            if (prec !== undefined && verb === 's') s = [...s].slice(0, Number(prec)).join('');
            break;
          case 'q':
            s = JSON.stringify(goString(a));
            break;
          case 'd':
            s = typeof a === 'number' && Number.isInteger(a) ? String(a) : `%!d(${typeName(a)}=${goString(a)})`;
            break;
          case 'f':
          case 'F':
            s =
              typeof a === 'number'
                ? a.toFixed(prec === undefined ? 6 : Number(prec))
                : `%!f(${typeName(a)}=${goString(a)})`;
            break;
          case 'e':
            s =
              typeof a === 'number'
                ? a.toExponential(prec === undefined ? 6 : Number(prec)).replace(/e([-+])(\d)$/, 'e$10$2')
                : `%!e(${typeName(a)}=${goString(a)})`;
            break;
          case 'g':
            s = typeof a === 'number' ? goFloat(a) : `%!g(${typeName(a)}=${goString(a)})`;
            break;
          case 'x':
          case 'X':
            s = typeof a === 'number' ? a.toString(16) : Buffer.from(goString(a)).toString('hex');
            if (verb === 'X') s = s.toUpperCase();
            break;
          case 't':
            s = typeof a === 'boolean' ? String(a) : `%!t(${typeName(a)}=${goString(a)})`;
            break;
          case 'T':
            s = typeName(a);
            break;
          default:
            return `%!${verb}(${typeName(a)}=${goString(a)})`;
        }
        if (flags.includes('+') && typeof a === 'number' && a >= 0 && 'dfFeg'.includes(verb)) s = `+${s}`;
        const w = width === undefined ? 0 : Number(width);
        if (s.length < w)
          s = flags.includes('-')
            ? s.padEnd(w)
            : flags.includes('0') && typeof a === 'number'
              ? s.padStart(w, '0')
              : s.padStart(w);
        void whole;
        return s;
      },
    ) +
    (ai < args.length
      ? `%!(EXTRA ${args
          .slice(ai)
          .map((a) => `${typeName(a)}=${goString(a)}`)
          .join(', ')})`
      : '')
  );
}

/** Go's print: spaces between operands when neither side is a string. */
function goPrint(args: unknown[]): string {
  let s = '';
  args.forEach((a, i) => {
    if (i > 0 && typeof a !== 'string' && typeof args[i - 1] !== 'string') s += ' ';
    s += goString(a);
  });
  return s;
}

function compare(a: unknown, b: unknown, op: string): boolean {
  const basic = (v: unknown) =>
    typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' || v === null || v === NO_VALUE;
  if (!basic(a) || !basic(b)) fail(undefined, `error calling ${op}: incompatible types for comparison`);
  if (op === 'eq' || op === 'ne') {
    if (typeof a !== typeof b && a !== null && b !== null)
      fail(undefined, `error calling ${op}: incompatible types for comparison`);
    return op === 'eq' ? a === b : a !== b;
  }
  if (typeof a !== typeof b || typeof a === 'boolean' || a === null)
    fail(undefined, `error calling ${op}: invalid type for comparison`);
  const x = a as number | string;
  const y = b as number | string;
  return op === 'lt' ? x < y : op === 'le' ? x <= y : op === 'gt' ? x > y : x >= y;
}

const str = (name: string, v: unknown): string => {
  if (typeof v === 'string') return v;
  return fail(undefined, `error calling ${name}: expected a string, got ${typeName(v)} ${goString(v)}`);
};
const int = (name: string, v: unknown): number => {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  return fail(undefined, `error calling ${name}: expected an integer, got ${typeName(v)} ${goString(v)}`);
};

/** Go's builtins and docker's template functions (docker/cli templates.basicFunctions). */
export const FUNCS: Record<string, Fn> = {
  // and / or are evaluated lazily in `call`; these are for completeness when piped.
  and: (...a) => a.find((x) => !truth(x)) ?? a[a.length - 1],
  or: (...a) => a.find((x) => truth(x)) ?? a[a.length - 1],
  not: (a) => !truth(a),
  len: (a) => {
    if (typeof a === 'string') return Buffer.byteLength(a);
    if (Array.isArray(a)) return a.length;
    if (a instanceof Map) return a.size;
    if (isMap(a)) return Object.keys(a).length;
    return fail(undefined, `error calling len: len of type ${typeName(a)}`);
  },
  index: (a, ...keys) => {
    let v = a;
    for (const k of keys) {
      if (Array.isArray(v) || typeof v === 'string') {
        const i = int('index', k);
        if (i < 0 || i >= v.length) fail(undefined, `error calling index: index out of range: ${i}`);
        v = typeof v === 'string' ? v.charCodeAt(i) : v[i];
      } else if (v instanceof Map) v = v.has(k as string) ? v.get(k as string) : NO_VALUE;
      else if (typeof v === 'object' && v !== null) {
        if (!isMap(v)) fail(undefined, `error calling index: can't index item of type ${typeName(v)}`);
        v = Object.hasOwn(v, k as string) ? (v as Record<string, unknown>)[k as string] : NO_VALUE;
      } else fail(undefined, `error calling index: index of untyped nil`);
    }
    return v;
  },
  slice: (a, ...idx) => {
    if (!Array.isArray(a) && typeof a !== 'string')
      fail(undefined, `error calling slice: can't slice item of type ${typeName(a)}`);
    const s = a as string | unknown[];
    const from = idx[0] === undefined ? 0 : int('slice', idx[0]);
    const to = idx[1] === undefined ? s.length : int('slice', idx[1]);
    if (from < 0 || to > s.length || from > to)
      fail(undefined, `error calling slice: index out of range: ${from}:${to}`);
    return s.slice(from, to);
  },
  eq: (a, ...b) => {
    if (!b.length) fail(undefined, 'error calling eq: missing argument for comparison');
    return b.some((x) => compare(a, x, 'eq'));
  },
  ne: (a, b) => compare(a, b, 'ne'),
  lt: (a, b) => compare(a, b, 'lt'),
  le: (a, b) => compare(a, b, 'le'),
  gt: (a, b) => compare(a, b, 'gt'),
  ge: (a, b) => compare(a, b, 'ge'),
  print: (...a) => goPrint(a),
  printf: (f, ...a) => printf(str('printf', f), ...a),
  println: (...a) => `${a.map(goString).join(' ')}\n`,
  // docker's: json is encoding/json without the trailing newline (Go escapes <, > and & too).
  json: (a) => jsonOf(a),
  join: (a, sep) => {
    if (!Array.isArray(a)) fail(undefined, `error calling join: expected a list of strings, got ${typeName(a)}`);
    return (a as unknown[]).map((x) => str('join', x)).join(str('join', sep));
  },
  split: (a, sep) => str('split', a).split(str('split', sep)),
  lower: (a) => str('lower', a).toLowerCase(),
  upper: (a) => str('upper', a).toUpperCase(),
  title: (a) =>
    str('title', a).replace(/(^|[^\p{L}\p{N}_'])(\p{L})/gu, (_m, p: string, c: string) => p + c.toUpperCase()),
  // docker's truncate and pad take the string first: {{truncate .ID 5}}, {{pad .Name 1 2}}.
  truncate: (a, n) => {
    const s = [...str('truncate', a)];
    const k = int('truncate', n);
    return s.length > k ? s.slice(0, k).join('') : s.join('');
  },
  pad: (a, l, r) =>
    `${' '.repeat(Math.max(0, int('pad', l)))}${str('pad', a)}${' '.repeat(Math.max(0, int('pad', r)))}`,
};

function jsonOf(a: unknown): string {
  const s = JSON.stringify(a === NO_VALUE || a === undefined ? null : a, (_k, v) =>
    v instanceof Map ? Object.fromEntries(v) : typeof v === 'function' ? undefined : v,
  );
  return (s ?? 'null').replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

// ------------------------------------------------------------------ evaluation

type Scope = { vars: { name: string; value: unknown }[] };

class Exec {
  out = '';
  private funcs: Record<string, Fn>;
  constructor(funcs: Record<string, Fn>) {
    this.funcs = funcs;
  }

  run(list: Node[], dot: unknown, scope: Scope): void {
    for (const n of list) {
      switch (n.k) {
        case 'text':
          this.out += n.v;
          break;
        case 'action': {
          const v = this.pipe(n.pipe, dot, scope);
          if (!n.pipe.decl.length) this.out += goString(v);
          break;
        }
        case 'if':
        case 'with': {
          const mark = scope.vars.length;
          const v = this.pipe(n.pipe, dot, scope);
          if (truth(v)) this.run(n.list, n.k === 'with' ? v : dot, scope);
          else if (n.else) this.run(n.else, dot, scope);
          scope.vars.length = mark;
          break;
        }
        case 'range':
          this.range(n, dot, scope);
          break;
      }
    }
  }

  private range(n: Extract<Node, { k: 'range' }>, dot: unknown, scope: Scope): void {
    const mark = scope.vars.length;
    const v = this.pipe({ ...n.pipe, decl: [] }, dot, scope);
    let items: [unknown, unknown][];
    if (Array.isArray(v)) items = v.map((x, i) => [i, x]);
    else if (v instanceof Map) items = [...v.keys()].sort().map((k) => [k, v.get(k)]);
    else if (isMap(v))
      items = Object.keys(v)
        .sort()
        .map((k) => [k, (v as Record<string, unknown>)[k]]);
    else if (typeof v === 'number' && Number.isInteger(v))
      items = Array.from({ length: Math.max(0, v) }, (_x, i) => [i, i]);
    else if (v === null || v === NO_VALUE || v === undefined) items = [];
    else return void fail(n.pos, `range can't iterate over ${goString(v)}`);
    if (!items.length) {
      if (n.else) this.run(n.else, dot, scope);
      return;
    }
    for (const [k, x] of items) {
      const inner = scope.vars.length;
      if (n.pipe.decl.length === 1) scope.vars.push({ name: n.pipe.decl[0]!, value: x });
      else if (n.pipe.decl.length === 2)
        scope.vars.push({ name: n.pipe.decl[0]!, value: k }, { name: n.pipe.decl[1]!, value: x });
      this.run(n.list, x, scope);
      scope.vars.length = inner;
    }
    scope.vars.length = mark;
  }

  private pipe(p: Pipe, dot: unknown, scope: Scope): unknown {
    let v: unknown;
    let first = true;
    for (const cmd of p.cmds) {
      v = this.command(cmd, dot, scope, first ? undefined : { v }, p.pos);
      first = false;
    }
    if (p.decl.length) {
      if (p.assign) {
        const slot = [...scope.vars].reverse().find((x) => x.name === p.decl[0]);
        if (!slot) fail(p.pos, `undefined variable: ${p.decl[0]}`);
        slot!.value = v;
      } else scope.vars.push({ name: p.decl[0]!, value: v });
    }
    return v;
  }

  private command(cmd: Arg[], dot: unknown, scope: Scope, piped: { v: unknown } | undefined, pos: Pos): unknown {
    const [head, ...args] = cmd;
    if (head!.k === 'ident') {
      const name = head!.name;
      const fn = this.funcs[name];
      if (!fn) fail(pos, `function ${JSON.stringify(name)} not defined`);
      // and/or short-circuit as Go's (1.18+) do.
      if ((name === 'and' || name === 'or') && !piped) {
        if (!args.length) fail(pos, `wrong number of args for ${name}: want at least 1 got 0`);
        let v: unknown;
        for (const a of args) {
          v = this.arg(a, dot, scope, pos);
          if (name === 'and' ? !truth(v) : truth(v)) return v;
        }
        return v;
      }
      const vals = args.map((a) => this.arg(a, dot, scope, pos));
      if (piped) vals.push(piped.v);
      try {
        return fn!(...vals);
      } catch (e) {
        const m = (e as Error).message.replace(/^template: /, '');
        return fail(pos, `executing at <${name}>: ${m}`);
      }
    }
    if (args.length || piped) {
      // A method-valued field takes the arguments: {{.Label "com.example"}}.
      const fn = this.arg(head!, dot, scope, pos, true);
      if (typeof fn !== 'function') fail(pos, `can't give argument to non-function ${describe(head!)}`);
      const vals = args.map((a) => this.arg(a, dot, scope, pos));
      if (piped) vals.push(piped.v);
      return (fn as Fn)(...vals);
    }
    return this.arg(head!, dot, scope, pos);
  }

  private arg(a: Arg, dot: unknown, scope: Scope, pos: Pos, raw = false): unknown {
    let v: unknown;
    let names: string[];
    switch (a.k) {
      case 'lit':
        return a.v;
      case 'dot':
        return dot;
      case 'ident': {
        const fn = this.funcs[a.name];
        if (!fn) fail(pos, `function ${JSON.stringify(a.name)} not defined`);
        return fn!();
      }
      case 'field':
        v = dot;
        names = a.names;
        break;
      case 'var': {
        if (a.name === '$') v = scope.vars[0]!.value;
        else {
          const slot = [...scope.vars].reverse().find((x) => x.name === a.name);
          if (!slot) fail(pos, `undefined variable: ${a.name}`);
          v = slot!.value;
        }
        names = a.names;
        break;
      }
      case 'pipe':
        v = this.pipe(a.pipe, dot, scope);
        names = a.names;
        break;
    }
    for (let i = 0; i < names.length; i++) {
      const name = names[i]!;
      v = field(v, name, pos);
      // A method reached in the middle of a chain, or at its end without arguments, is called.
      if (typeof v === 'function' && !(raw && i === names.length - 1)) v = (v as Fn)();
    }
    return v;
  }
}

const describe = (a: Arg) =>
  a.k === 'field' ? `.${a.names.join('.')}` : a.k === 'var' ? [a.name, ...a.names].join('.') : a.k;

function field(v: unknown, name: string, pos: Pos): unknown {
  if (v instanceof Map) return v.has(name) ? v.get(name) : NO_VALUE;
  if (isMap(v)) return Object.hasOwn(v, name) ? (v as Record<string, unknown>)[name] : NO_VALUE;
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
    if (!Object.hasOwn(v, name)) fail(pos, `executing at <.${name}>: can't evaluate field ${name} in type struct`);
    return (v as Record<string, unknown>)[name];
  }
  if (v === null || v === NO_VALUE || v === undefined)
    fail(pos, `executing at <.${name}>: nil pointer evaluating .${name}`);
  return fail(pos, `executing at <.${name}>: can't evaluate field ${name} in type ${typeName(v)}`);
}

/** A parsed template: `execute(data)` renders it. */
export class GoTemplate {
  private nodes: Node[];
  private funcs: Record<string, Fn>;
  private constructor(nodes: Node[], funcs: Record<string, Fn>) {
    this.nodes = nodes;
    this.funcs = funcs;
  }

  /** Parses `src`; a syntax error is an InvalidArgument naming the line and column. */
  static parse(src: string, funcs: Record<string, Fn> = {}): GoTemplate {
    return new GoTemplate(new Parser(lex(src)).parse(), { ...FUNCS, ...funcs });
  }

  execute(data: unknown): string {
    const e = new Exec(this.funcs);
    e.run(this.nodes, data, { vars: [{ name: '$', value: data }] });
    return e.out;
  }
}
