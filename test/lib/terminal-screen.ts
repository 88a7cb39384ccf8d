// What a terminal shows after a program's output: lines overwritten by cursor-up (CSI n A),
// erase-line (CSI K) and erase-below (CSI J), as a VT100 would; other escapes are kept as text.
// For tests of live views (berth build --progress tty) that assert the final screen.
export function terminalScreen(text: string): string[] {
  const lines: string[] = [''];
  let row = 0;
  for (const m of text.matchAll(/\x1b\[(\d*)([AJK])|\r|\n|[^\x1b\r\n]+|\x1b/g)) {
    if (m[2] === 'A') row = Math.max(0, row - Number(m[1] || 1));
    else if (m[2] === 'K') lines[row] = '';
    else if (m[2] === 'J') {
      lines.length = row + 1;
      lines[row] = '';
    } else if (m[0] === '\r') continue;
    else if (m[0] === '\n') {
      row++;
      if (lines.length <= row) lines.push('');
    } else lines[row] = (lines[row] ?? '') + m[0];
  }
  return lines.filter((l, i) => i < lines.length - 1 || l !== '');
}
