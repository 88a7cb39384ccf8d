// The NAT rules in a container's network namespace that send its 127.0.0.11:53 (UDP and TCP) to
// the ports berthd's embedded DNS server listens on there (embedded-dns.ts), as dockerd does: the
// server needs no port 53 of its own, so a DNS server the container runs on port 53 works too. The
// rules replace the namespace's whole nat table (berth's own: nothing else writes it, unless a
// privileged container does), so making them again after berthd restarts with new ports is one
// idempotent `iptables-restore`, run in the namespace by nsenter (a short process at start, none
// while the container runs). They go with the namespace.
import { unavailable } from '../errors/errors.ts';
import { EMBEDDED_DNS_ADDRESS } from './embedded-dns.ts';
import { describeFailure, runCommand } from './run-command.ts';

export function dnsRedirectRules(udpPort: number, tcpPort: number): string {
  const to = (proto: string, port: number) =>
    `-A OUTPUT -d ${EMBEDDED_DNS_ADDRESS}/32 -p ${proto} -m ${proto} --dport 53 -j DNAT --to-destination ${EMBEDDED_DNS_ADDRESS}:${port}`;
  return [
    '*nat',
    ':PREROUTING ACCEPT [0:0]',
    ':INPUT ACCEPT [0:0]',
    ':OUTPUT ACCEPT [0:0]',
    ':POSTROUTING ACCEPT [0:0]',
    to('udp', udpPort),
    to('tcp', tcpPort),
    'COMMIT',
    '',
  ].join('\n');
}

/** Points 127.0.0.11:53 of the namespace at `netnsPath` to the server's ports. */
export async function redirectDns(netnsPath: string, udpPort: number, tcpPort: number): Promise<void> {
  const args = [`--net=${netnsPath}`, 'iptables-restore', '-w', '5'];
  const r = await runCommand('nsenter', args, { input: dnsRedirectRules(udpPort, tcpPort), timeoutMs: 30_000 });
  if (r.code !== 0) throw unavailable(`embedded DNS redirect: ${describeFailure('nsenter', args, r)}`);
}
