// Parses WWW-Authenticate challenges (RFC 7235): `Bearer realm="…",service="…",scope="…"` and
// `Basic realm="…"`. Pure; must never do I/O.

export type Challenge = { scheme: string; params: Record<string, string> };

export function parseWwwAuthenticate(header: string): Challenge[] {
  const out: Challenge[] = [];
  const re = /\s*([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*)(?:\s+|$)/y;
  const param = /\s*([A-Za-z0-9!#$%&'*+.^_`|~-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?/y;
  let i = 0;
  while (i < header.length) {
    re.lastIndex = i;
    const m = re.exec(header);
    if (!m) break;
    const ch: Challenge = { scheme: m[1]!.toLowerCase(), params: {} };
    i = re.lastIndex;
    for (;;) {
      param.lastIndex = i;
      const p = param.exec(header);
      if (!p) break;
      // A token followed by whitespace and no "=" starts the next challenge.
      ch.params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : (p[3] ?? '');
      i = param.lastIndex;
    }
    out.push(ch);
    while (i < header.length && (header[i] === ',' || header[i] === ' ')) i++;
  }
  return out;
}
