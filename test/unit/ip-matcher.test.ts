/**
 * The compiled IP matcher answers exactly as Node's BlockList does, for IPv4 and IPv6 entries,
 * IPv4 addresses under IPv6 entries, and strings that are not addresses at all.
 */
import t from 'tap';
import { compileCidrs, contains } from '../../core/http/client-ip.js';
import { compileIpMatcher, parseIpv4 } from '../../core/http/ip-matcher.js';

const LISTS: string[][] = [
  [],
  ['127.0.0.0/8', '::1/128'],
  ['10.1.2.3/16', '192.168.0.1'],
  ['0.0.0.0/0'],
  ['203.0.113.7/32', '198.51.100.0/31', '100.64.0.0/10'],
  ['::ffff:0:0/96'],
  ['::/0'],
  ['2001:db8::/32', '172.16.0.0/12'],
];
const ADDRESSES = [
  '127.0.0.1', '127.255.255.255', '128.0.0.1', '10.1.0.0', '10.1.255.255', '10.2.0.0', '192.168.0.1', '192.168.0.2',
  '0.0.0.0', '255.255.255.255', '203.0.113.7', '203.0.113.8', '198.51.100.1', '198.51.100.2', '100.127.255.255', '100.128.0.0',
  '172.31.255.255', '172.32.0.0', '::1', '::2', '2001:db8::1', '2001:db9::1', '::ffff:127.0.0.1', '::ffff:7f00:1',
  '', 'localhost', '1.2.3', '1.2.3.4.5', '01.2.3.4', '1.2.3.04', '256.1.1.1', '1.2.3.-1', '1..2.3', ' 1.2.3.4', '1.2.3.4 ',
];

t.test('matches exactly what BlockList matches', async (t) => {
  for (const cidrs of LISTS) {
    const list = compileCidrs(cidrs);
    const matches = compileIpMatcher(cidrs);
    for (const ip of ADDRESSES) t.equal(matches(ip), contains(list, ip), `${JSON.stringify(cidrs)} ${JSON.stringify(ip)}`);
  }
});

t.test('parses dotted quads the way isIP accepts them, and nothing else', async (t) => {
  t.equal(parseIpv4('127.0.0.1'), 0x7f000001);
  t.equal(parseIpv4('255.255.255.255'), 0xffffffff);
  t.equal(parseIpv4('0.0.0.0'), 0);
  for (const bad of ['01.2.3.4', '1.2.3', '1.2.3.4.5', '256.0.0.0', '1.2.3.4 ', 'a.b.c.d', '1.2..3', '::1', '']) t.equal(parseIpv4(bad), -1, bad);
});

t.test('a bad entry is refused at compile time', async (t) => {
  t.throws(() => compileIpMatcher(['10.0.0.0/33']), /invalid prefix/);
  t.throws(() => compileIpMatcher(['nope']), /not an IP address/);
});
