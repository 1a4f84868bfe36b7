/**
 * The client's address: the socket peer, unless that peer is a trusted proxy, in which case the
 * right-most `X-Forwarded-For` entry that is not itself a trusted proxy. CIDR matching is Node's
 * `net.BlockList`, compiled once per config version.
 */
import { BlockList, isIP } from 'node:net';

export type ClientIpResolver = (peer: string | undefined, forwardedFor: string | string[] | undefined) => string;

export function normaliseIp(ip: string): string {
  return ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
}

/** Parses CIDRs (`10.0.0.0/8`, `::1/128`, or a bare address); throws a message naming a bad entry. */
export function compileCidrs(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [addr = '', bits] = cidr.split('/');
    const family = isIP(addr);
    if (!family) throw new Error(`'${cidr}' is not an IP address or CIDR`);
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (bits === undefined) list.addAddress(addr, type);
    else {
      const prefix = Number(bits);
      if (!Number.isInteger(prefix) || prefix < 0 || prefix > (family === 4 ? 32 : 128)) throw new Error(`'${cidr}' has an invalid prefix length`);
      list.addSubnet(addr, prefix, type);
    }
  }
  return list;
}

export function contains(list: BlockList, ip: string): boolean {
  const family = isIP(ip);
  return family !== 0 && list.check(ip, family === 4 ? 'ipv4' : 'ipv6');
}

export function clientIpResolver(trustedProxies: readonly string[]): ClientIpResolver {
  if (trustedProxies.length === 0) return (peer) => normaliseIp(peer ?? '');
  const trusted = compileCidrs(trustedProxies);
  return (peer, forwardedFor) => {
    const direct = normaliseIp(peer ?? '');
    if (!forwardedFor || !contains(trusted, direct)) return direct;
    const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',');
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = normaliseIp(hops[i]!.trim());
      if (!isIP(hop)) return direct;
      if (!contains(trusted, hop)) return hop;
    }
    return direct;
  };
}
