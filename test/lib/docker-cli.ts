// The real docker clients against a berthd's Docker API socket, for the tests: the docker CLI 28 at
// /usr/local/bin/docker and Debian's docker.io 20.10 client, run with their own config directory;
// and a raw request over the socket for what the CLIs do not show (status codes).
import { execFile } from 'node:child_process';
import { request } from 'node:http';

export const DOCKER_CLIENTS = [
  { name: 'docker 28', bin: '/usr/local/bin/docker' },
  { name: 'docker.io 20.10', bin: '/usr/bin/docker' },
] as const;

export type CliRun = { code: number; stdout: string; stderr: string };

/** Runs `bin` against the Docker API at `socket` (never throws: the exit code is in the result). */
export function dockerCli(bin: string, socket: string, configDir: string, ...args: string[]): Promise<CliRun> {
  return runDocker(bin, socket, configDir, args);
}

/** dockerCli with `input` on the client's stdin, then its end. */
export function dockerCliInput(
  bin: string,
  socket: string,
  configDir: string,
  input: string,
  ...args: string[]
): Promise<CliRun> {
  return runDocker(bin, socket, configDir, args, input);
}

function runDocker(bin: string, socket: string, configDir: string, args: string[], input?: string): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = execFile(
      bin,
      ['-H', `unix://${socket}`, ...args],
      { encoding: 'utf8', timeout: 60_000, env: { ...process.env, DOCKER_CONFIG: configDir } },
      (err, stdout, stderr) => {
        const code = err
          ? typeof (err as { code?: unknown }).code === 'number'
            ? (err as { code: number }).code
            : 1
          : 0;
        resolve({ code, stdout, stderr });
      },
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** One request to the Docker API at `socket`: its status and body text. */
export function dockerRequest(
  socket: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      {
        socketPath: socket,
        method,
        path,
        headers: data ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } : {},
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          text += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

/** The run's stdout, after asserting that it exited 0 (its output in the message otherwise). */
export async function cliOk(r: Promise<CliRun>): Promise<string> {
  const x = await r;
  if (x.code !== 0) throw new Error(`exit ${x.code}: ${x.stdout}${x.stderr}`);
  return x.stdout;
}

/** A container's IPv4 addresses by interface, as busybox's `ip` inside it shows them (`cli` runs a docker verb). */
export async function containerAddrs(
  cli: (...args: string[]) => Promise<CliRun>,
  name: string,
): Promise<Record<string, string>> {
  const out = await cliOk(cli('exec', name, 'ip', '-4', '-o', 'addr', 'show'));
  const m: Record<string, string> = {};
  for (const l of out.split('\n')) {
    const f = /^\d+:\s+(\S+)\s+inet\s+([\d.]+)\//.exec(l);
    if (f && f[1] !== 'lo') m[f[1]!] = f[2]!;
  }
  return m;
}

/** A container's default route (busybox's `ip route` lists every route whatever it is asked). */
export async function containerDefaultRoute(
  cli: (...args: string[]) => Promise<CliRun>,
  name: string,
): Promise<string> {
  const out = await cliOk(cli('exec', name, 'ip', 'route'));
  return out
    .split('\n')
    .filter((l) => l.startsWith('default'))
    .join('\n');
}
