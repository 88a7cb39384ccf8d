// The Dockerfile's surface syntax: parser directives, comments, line continuations and
// here-documents, into one node per instruction (keyword, flags, the rest of its text, line span).
// What each instruction's arguments mean is instructions.ts's. The rules are moby/buildkit's
// frontend/dockerfile/parser (read for the facts; berth's own code):
// - directives (`# syntax=…`, `# escape=\|``, `# check=…`) only at the very top, before any
//   comment, blank line or instruction; each at most once; an unknown one ends them (a comment);
// - a line whose first non-blank is `#` is a comment, also inside a continued instruction;
// - the escape character at the end of a line (blanks may follow) continues it; blank and comment
//   lines inside a continuation are skipped;
// - RUN, COPY and ADD take here-documents (`<<EOF`, `<<-EOF` strips leading tabs, a quoted name
//   means no expansion), whose bodies follow the instruction's line, verbatim.
// Must never: substitute variables (that needs the environment in force at each step).
import { invalidArgument } from '../errors/errors.ts';

export type Heredoc = {
  name: string;
  /** The body as written, ending with a newline (tabs not yet stripped). */
  content: string;
  /** `<<-`: leading tabs are stripped from each line. */
  chomp: boolean;
  /** The name was unquoted: the body's variables expand (RUN's shell does it; COPY's body as Docker does). */
  expand: boolean;
};

export type DockerfileNode = {
  /** Lower-case instruction name. */
  keyword: string;
  /** Raw leading `--name[=value]` words. */
  flags: string[];
  /** The text after the keyword and flags, continuations joined (heredoc bodies not included). */
  rest: string;
  heredocs: Heredoc[];
  startLine: number;
  endLine: number;
  /** The instruction as written on its first line (for history's created_by and progress). */
  original: string;
};

export type ParsedDockerfile = {
  escape: string;
  directives: Record<string, string>;
  nodes: DockerfileNode[];
  /** The file's name for messages (`Dockerfile`, `-f`'s value). */
  file: string;
};

const DIRECTIVE = /^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/;
const KNOWN_DIRECTIVES = new Set(['syntax', 'escape', 'check']);
const HEREDOC_INSTRUCTIONS = new Set(['run', 'copy', 'add']);
const HEREDOC = /<<(-?)(["']?)([A-Za-z_][A-Za-z0-9_.-]*)\2/g;

/** A refusal naming the file and line: "Dockerfile:3: unknown instruction FORM (expected …)". */
export function dockerfileError(file: string, line: number, msg: string): Error {
  return invalidArgument(`${file}:${line}: ${msg}`);
}

export function parseDockerfile(text: string, file = 'Dockerfile'): ParsedDockerfile {
  // A BOM and CRLF line ends are common in files written on Windows; Docker accepts both.
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const directives: Record<string, string> = {};
  let i = 0;
  for (; i < lines.length; i++) {
    const m = DIRECTIVE.exec(lines[i]!);
    if (!m) break;
    const key = m[1]!.toLowerCase();
    if (!KNOWN_DIRECTIVES.has(key)) break;
    if (key in directives) throw dockerfileError(file, i + 1, `only one ${key} parser directive can be used`);
    directives[key] = m[2]!;
  }
  const esc = directives.escape ?? '\\';
  if (esc !== '\\' && esc !== '`')
    throw dockerfileError(
      file,
      Object.keys(directives).indexOf('escape') + 1,
      `invalid escape token ${JSON.stringify(esc)}: expected \\ or \``,
    );
  const continues = (l: string): boolean => l.trimEnd().endsWith(esc);
  const stripContinuation = (l: string): string => {
    const t = l.trimEnd();
    return t.slice(0, t.length - esc.length);
  };
  const isComment = (l: string): boolean => /^\s*#/.test(l);

  const nodes: DockerfileNode[] = [];
  while (i < lines.length) {
    const first = lines[i]!;
    const startLine = i + 1;
    i++;
    if (first.trim() === '' || isComment(first)) continue;
    let logical = first.trimStart();
    let endLine = startLine;
    if (continues(logical)) {
      logical = stripContinuation(logical);
      for (;;) {
        if (i >= lines.length) break;
        const l = lines[i]!;
        i++;
        if (isComment(l) || l.trim() === '') continue;
        endLine = i;
        if (continues(l)) logical += stripContinuation(l);
        else {
          logical += l;
          break;
        }
      }
    }
    const m = /^(\S+)(?:\s+([\s\S]*))?$/.exec(logical.trim());
    if (!m) continue;
    const keyword = m[1]!.toLowerCase();
    if (!/^[a-z]+$/.test(keyword))
      throw dockerfileError(
        file,
        startLine,
        `unknown instruction ${JSON.stringify(m[1])}: expected an instruction such as FROM, RUN, COPY`,
      );
    const { flags, rest } = extractFlags(m[2] ?? '');
    const heredocs: Heredoc[] = [];
    if (HEREDOC_INSTRUCTIONS.has(keyword)) {
      for (const h of rest.matchAll(HEREDOC)) {
        const name = h[3]!;
        const chomp = h[1] === '-';
        let content = '';
        let closed = false;
        while (i < lines.length) {
          const l = lines[i]!;
          i++;
          if ((chomp ? l.replace(/^\t+/, '') : l) === name) {
            closed = true;
            break;
          }
          content += `${l}\n`;
        }
        if (!closed)
          throw dockerfileError(
            file,
            startLine,
            `here-document ${name} is not terminated: expected a line "${name}" before the end of the file`,
          );
        endLine = i;
        heredocs.push({ name, content, chomp, expand: h[2] === '' });
      }
    }
    nodes.push({ keyword, flags, rest: rest.trim(), heredocs, startLine, endLine, original: logical.trim() });
  }
  return { escape: esc, directives, nodes, file };
}

/** Leading `--name[=value]` words (a value may hold quoted blanks), as buildkit's extractBuilderFlags. */
export function extractFlags(text: string): { flags: string[]; rest: string } {
  const flags: string[] = [];
  let s = text.trimStart();
  while (s.startsWith('--')) {
    let j = 0;
    let quote: string | undefined;
    for (; j < s.length; j++) {
      const c = s[j]!;
      if (quote) {
        if (c === quote) quote = undefined;
      } else if (c === '"' || c === "'") quote = c;
      else if (/\s/.test(c)) break;
    }
    const word = s.slice(0, j);
    if (word === '--') {
      s = s.slice(j).trimStart();
      break;
    }
    flags.push(word);
    s = s.slice(j).trimStart();
  }
  return { flags, rest: s };
}

/** The body with `<<-`'s leading tabs stripped. */
export function heredocBody(h: Heredoc): string {
  return h.chomp ? h.content.replace(/^\t+/gm, '') : h.content;
}
