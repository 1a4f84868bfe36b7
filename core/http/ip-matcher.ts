/**
 * A CIDR list compiled into a function of the client address. IPv4 addresses (nearly every
 * request) are matched against the IPv4 entries with integer masks, without crossing into C++;
 * anything else — IPv6, and IPv4 addresses the IPv4 entries do not match while the list holds IPv6
 * entries (`::ffff:0:0/96` covers IPv4) — is answered by Node's `BlockList`, so the result is
 * always exactly `BlockList.check`'s.
 */
import { isIP } from 'node:net';
import { compileCidrs, contains } from './client-ip.js';

export type IpMatcher = (ip: string) => boolean;

/** Compiles `cidrs` (throws like `compileCidrs` for a bad entry). */
export function compileIpMatcher(cidrs: readonly string[]): IpMatcher {
  const list = compileCidrs(cidrs);
  const bases: number[] = [];
  const masks: number[] = [];
  let hasIpv6 = false;
  for (const cidr of cidrs) {
    const [addr = '', bits] = cidr.split('/');
    if (isIP(addr) !== 4) {
      hasIpv6 = true;
      continue;
    }
    const prefix = bits === undefined ? 32 : Number(bits);
    const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
    bases.push((parseIpv4(addr) & mask) >>> 0);
    masks.push(mask);
  }
  const count = bases.length;
  return (ip) => {
    const address = parseIpv4(ip);
    if (address === -1) return contains(list, ip);
    for (let i = 0; i < count; i++) if (((address & masks[i]!) >>> 0) === bases[i]) return true;
    return hasIpv6 && list.check(ip, 'ipv4');
  };
}

const DOT = 46;
const ZERO = 48;

/**
 * The address as an unsigned 32-bit number, or -1 when `ip` is not a dotted quad as Node's `isIP`
 * accepts it (four decimal octets of 0–255, no leading zeros).
 */
export function parseIpv4(ip: string): number {
  const length = ip.length;
  if (length < 7 || length > 15) return -1;
  let address = 0;
  let octet = 0;
  let digits = 0;
  let octets = 0;
  for (let i = 0; i <= length; i++) {
    const c = i === length ? DOT : ip.charCodeAt(i);
    if (c === DOT) {
      if (digits === 0 || octet > 255 || ++octets > 4) return -1;
      address = address * 256 + octet;
      octet = 0;
      digits = 0;
      continue;
    }
    const d = c - ZERO;
    if (d < 0 || d > 9 || (digits === 1 && octet === 0)) return -1;
    octet = octet * 10 + d;
    digits++;
  }
  return octets === 4 ? address : -1;
}
