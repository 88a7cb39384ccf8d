// What the CRI's streaming calls ask for, as the streaming server gets it with a token (streaming.ts),
// and where that server listens. Pure data.
import { invalidArgument } from '../errors/errors.ts';

export type ExecStreamRequest = {
  kind: 'exec';
  containerId: string;
  cmd: string[];
  tty: boolean;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
};
export type AttachStreamRequest = {
  kind: 'attach';
  containerId: string;
  tty: boolean;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
};
export type PortForwardStreamRequest = { kind: 'portforward'; podId: string; ports: number[] };
export type StreamRequest = ExecStreamRequest | AttachStreamRequest | PortForwardStreamRequest;

/** Where the streaming server listens: host and port (0: an ephemeral port). */
export type StreamAddress = { host: string; port: number };

export const DEFAULT_STREAM_ADDRESS: StreamAddress = { host: '127.0.0.1', port: 0 };

/** "HOST:PORT" or "[V6]:PORT" → the address; `field` names the flag or config key in errors. */
export function parseStreamAddress(s: string, field: string): StreamAddress {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(s);
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || port > 65535)
    throw invalidArgument(
      `${field}: ${JSON.stringify(s)} (expected HOST:PORT, e.g. 127.0.0.1:0 for an ephemeral port on loopback)`,
    );
  return { host: (m[1] ?? m[2])!, port };
}
