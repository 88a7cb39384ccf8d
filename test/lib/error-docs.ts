// The table of error codes in docs/errors.md, for the tests that hold the code to it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** code → its cells after the first (category, means, CRI status, native API status, Docker API status), in table order. */
export function documentedErrorCodes(): Map<string, string[]> {
  const text = readFileSync(join(import.meta.dirname, '../../docs/errors.md'), 'utf8');
  const rows = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const m = /^\| `([A-Z][A-Z0-9_]*)` \|(.*)\|$/.exec(line);
    if (m)
      rows.set(
        m[1]!,
        m[2]!.split('|').map((c) => c.trim()),
      );
  }
  return rows;
}
