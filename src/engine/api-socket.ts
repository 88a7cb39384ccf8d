// The one policy for every API socket berthd serves: the native API, the Docker Engine API and
// the CRI (each binds through bindApiSocket, the node:net servers through listenApiSocket). A unix socket, mode 0660, owned by
// berthd's user and the group the configuration names (`--group`, as dockerd's -G; root's group by
// default): whoever may connect may run containers as root, so the group is the whole list of who
// may. berthd has no TCP listener: a TCP address is refused here (docs/security.md says what one
// would need: TLS with client certificates).
// The servers behind the sockets are loaded at their first connection (serveLazily): node:http,
// the routers and the Docker API's code, or grpc-js, cost an idle berthd that nobody calls.
// Must never: leave a socket reachable with another mode or group, even for a moment.
import { readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { chmod, chown, mkdtemp, rename, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { invalidArgument } from '../errors/errors.ts';
import { shedMemory } from '../sys/native.ts';

export const API_SOCKET_MODE = 0o660;

/** The gid of `group`: a numeric gid, or a name looked up in /etc/group; root's group (0) when unset. */
export function resolveGroup(group: string | number | undefined, groupFile = '/etc/group'): number {
  if (group === undefined || group === '') return 0;
  const text = String(group);
  if (/^\d+$/.test(text)) {
    const gid = Number(text);
    if (gid > 0xfffffffe) throw invalidArgument(`--group ${text}: expected a gid below 4294967295`);
    return gid;
  }
  // Node has no getgrnam; /etc/group is what it would read on a host without NSS modules for groups.
  let lines: string[] = [];
  try {
    lines = readFileSync(groupFile, 'utf8').split('\n');
  } catch {}
  for (const l of lines) {
    const f = l.split(':');
    if (f[0] === text && f.length >= 3 && /^\d+$/.test(f[2]!)) return Number(f[2]);
  }
  throw invalidArgument(
    `--group ${JSON.stringify(text)}: no such group in ${groupFile} (expected a group name or a numeric gid)`,
  );
}

/**
 * The path of an API socket address: a path, or `unix://<path>`. Anything else (`tcp://`, `fd://`)
 * is refused: a TCP listener would hand root to whoever reaches the port.
 */
export function apiSocketPath(address: string): string {
  const m = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/i.exec(address);
  if (!m) return resolve(address);
  if (m[1]!.toLowerCase() === 'unix' && m[2]) return resolve(m[2]);
  throw invalidArgument(
    `socket address ${JSON.stringify(address)}: berthd serves its APIs on unix sockets only (expected a path or unix://<path>); a TCP listener would need TLS with client certificates, see docs/security.md`,
  );
}

/**
 * Binds an API socket at `path`: `bind` binds the server at the path it is given (node:http's
 * listen, grpc-js's bindAsync). That path is in a new private (0700) directory beside `path`; the
 * socket gets API_SOCKET_MODE and `gid` there and is then renamed over `path`, so no client ever
 * finds it with the umask's mode or root's group. Connections go to the socket's inode, so the
 * rename keeps the listener.
 */
export async function bindApiSocket(
  path: string,
  gid: number,
  bind: (tempPath: string) => Promise<void>,
): Promise<void> {
  const dir = await mkdtemp(join(dirname(path), '.s'));
  const temp = join(dir, 's');
  try {
    await bind(temp);
    await chown(temp, process.getuid?.() ?? 0, gid);
    await chmod(temp, API_SOCKET_MODE);
    await rename(temp, path);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * bindApiSocket for a node:net (or node:http) server: listens at the private path, then renames.
 * Tracks the server's connections, so that the close it returns ends them (an attach or a log
 * follow would otherwise hold server.close for ever) and removes the socket.
 */
export async function listenApiSocket(server: Server, path: string, gid: number): Promise<() => Promise<void>> {
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await bindApiSocket(
    path,
    gid,
    (temp) =>
      new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(temp, () => resolve());
      }),
  );
  return async () => {
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    });
    await rm(path, { force: true });
  };
}

/** What serves an API socket's connections once loaded. */
export type LazyServer = {
  /** Takes a connection (paused: nothing has been read from it) and serves it. */
  take(socket: Socket): void;
  /** Ends what the server holds beyond its connections. */
  close(): Promise<void>;
};

/** An HTTP server (node:http's Server is one) as a LazyServer: connections handed to it as if it had accepted them. */
export function httpLazyServer(server: { emit(event: 'connection', s: Socket): boolean }, close = async () => {}) {
  return {
    take(socket: Socket) {
      server.emit('connection', socket);
      socket.resume();
    },
    close,
  } satisfies LazyServer;
}

/**
 * Listens on an API socket (listenApiSocket's policy) with a bare node:net server, and loads what
 * serves it at the first connection. Connections are accepted paused (pauseOnConnect), so nothing
 * is read before the server owns them. A load that fails is logged, that connection closed, and
 * the next connection tries again.
 */
export async function serveLazily(
  path: string,
  gid: number,
  what: string,
  log: (m: string) => void,
  load: () => Promise<LazyServer>,
  /**
   * Whether a client's half-close leaves our side writable. node:http's servers are made so (a
   * Docker client half-closes a hijacked attach once it has no stdin, and still reads the output);
   * http2's are not.
   */
  allowHalfOpen = true,
): Promise<{ loaded(): boolean; close(): Promise<void> }> {
  let served: LazyServer | undefined;
  let loading: Promise<LazyServer> | undefined;
  const server = createServer({ pauseOnConnect: true, allowHalfOpen }, (socket) => {
    if (served) {
      served.take(socket);
      return;
    }
    // Loading the server is start-up work too (parsing and compiling its modules): what only it
    // used is given back (shedMemory), what serving uses is mapped back by the requests.
    loading ??= load().then((s) => {
      shedMemory();
      served = s;
      return s;
    });
    loading.then(
      (s) => s.take(socket),
      (e: unknown) => {
        loading = undefined;
        log(`${what} failed to load: ${e instanceof Error ? e.message : String(e)}`);
        socket.destroy();
      },
    );
  });
  const closeSocket = await listenApiSocket(server, path, gid);
  return {
    loaded: () => served !== undefined,
    close: async () => {
      await closeSocket();
      await served?.close();
    },
  };
}
