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
  return new Promise((resolve) => {
    execFile(
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
