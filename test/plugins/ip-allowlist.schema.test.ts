/** The `ip-allowlist` config schema: defaults, accepted shapes, rejected ones. */
import t from 'tap';
import { readSchema, validateAt, formatPath } from '../../core/config/schema.js';

const schema = readSchema('plugins/ip-allowlist');
const check = (config: unknown) => validateAt(schema, config, ['pipeline', 1, 'ip-allowlist']).map((i) => `${formatPath(i.path)}: ${i.message}`);

t.test('an empty config gets the documented defaults', async (t) => {
  const config = {};
  t.same(check(config), []);
  t.same(config, { allow: [], deny: [], status: 403, message: 'Requests from this address are not allowed.' });
});

t.test('accepts IPv4 and IPv6 CIDRs and bare addresses', async (t) => {
  t.same(check({ allow: ['10.0.0.0/8', '2001:db8::/32', '203.0.113.7'], deny: ['::1'], status: 404, message: 'no' }), []);
});

t.test('rejects unknown fields, non-list lists and a status outside 4xx/5xx', async (t) => {
  t.same(check({ alow: ['10.0.0.0/8'] }), ["pipeline[1].ip-allowlist.alow: unknown field 'alow' (did you mean 'allow'?)"]);
  t.equal(check({ allow: '10.0.0.0/8' }).length, 1);
  t.match(check({ allow: '10.0.0.0/8' })[0], /^pipeline\[1\]\.ip-allowlist\.allow: /);
  t.match(check({ status: 200 })[0], /^pipeline\[1\]\.ip-allowlist\.status: /);
  t.match(check({ deny: [''] })[0], /^pipeline\[1\]\.ip-allowlist\.deny\[0\]: /);
});
