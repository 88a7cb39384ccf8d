// Where berth's cold build of bench/build's Dockerfile spends its time: the same context, built with
// --no-cache on a berthd of its own, the tty view's final screen (each step's time) printed.
//   node bench/build/profile.ts [--rounds N] [--mb 50] [--files 5000]
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { busyboxRootfsTar, finish, REPO, startBerthd, tempRoots } from '../../test/integration/engine-harness.ts';
import { terminalScreen } from '../../test/lib/terminal-screen.ts';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '2' },
    mb: { type: 'string', default: '50' },
    files: { type: 'string', default: '5000' },
  },
});
const ctx = mkdtempSync('/tmp/bbuild-prof-');
mkdirSync(join(ctx, 'src'));
for (let i = 0; i < Number(values.mb); i++) writeFileSync(join(ctx, 'src', `blob${i}.bin`), randomBytes(1024 * 1024));
writeFileSync(
  join(ctx, 'Dockerfile'),
  [
    'FROM busybox AS gen',
    `RUN mkdir /gen && cd /gen && i=0 && while [ $i -lt ${values.files} ]; do echo $i > f$i; i=$((i+1)); done`,
    'FROM busybox AS app',
    'COPY src/ /src/',
    'FROM busybox',
    'COPY --from=gen /gen /gen',
    'COPY --from=app /src /src',
    '',
  ].join('\n'),
);
const roots = tempRoots();
const d = await startBerthd(roots.root, roots.runRoot, ['--no-network']);
try {
  await d.client.importRootfs(Readable.from([await busyboxRootfsTar()]), 'busybox:latest');
  for (let i = 0; i < Number(values.rounds); i++) {
    const cmd = `${process.execPath} ${join(REPO, 'src/cli/berth/main.ts')} --host ${d.socket} build --no-cache --progress tty -t prof:1 ${ctx}`;
    const t0 = process.hrtime.bigint();
    const r = spawnSync('/usr/bin/script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8' });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    process.stdout.write(
      `round ${i + 1}: ${ms.toFixed(0)} ms (exit ${r.status})\n${terminalScreen(r.stdout).join('\n')}\n`,
    );
  }
} finally {
  await finish(d, roots.root, roots.runRoot);
  rmSync(ctx, { recursive: true, force: true });
}
