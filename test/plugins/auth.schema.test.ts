/** The `auth` config schema: defaults, accepted shapes, and rejections that name the field. */
import t from 'tap';
import { readSchema, validateAt, formatPath } from '../../core/config/schema.js';

const schema = readSchema('plugins/auth');
const check = (config: unknown) => validateAt(schema, config, ['pipeline', 0, 'auth']).map((i) => `${formatPath(i.path)}: ${i.message}`);

t.test('an empty config gets the documented defaults (SQL keys, read/write scopes)', async (t) => {
  const config: Record<string, unknown> = {};
  t.same(check(config), []);
  t.same(config, {
    keys: ['sql'],
    static: [],
    required_scopes: { read: ['read', 'write'], write: ['write'] },
    stale_ttl: '5m',
    negative_cache_ttl: '5s',
    cache_size: 10000,
    last_used_interval: '30s',
  });
  t.notOk('cache_ttl' in config, 'cache_ttl has no fixed default: it depends on the stores');
});

t.test('a static key gets its defaults', async (t) => {
  const config = { keys: ['static'], static: [{ name: 'dev', key: 'k', org: 'dev' }] };
  t.same(check(config), []);
  t.same(config.static[0], { name: 'dev', key: 'k', org: 'dev', scopes: ['read', 'write'], environment: 'live', allowed_models: [], allowed_ips: [], allowed_referrers: [], limits: {}, metadata: {} });
});

t.test('accepts every documented field', async (t) => {
  const config = {
    keys: ['static', 'sql'],
    static: [
      { name: 'a', sha256: 'a'.repeat(64), org: 'o', scopes: ['read', 'write', 'admin'], environment: 'test', allowed_models: ['gpt-4o*'], allowed_ips: ['10.0.0.0/8'], allowed_referrers: ['*.example.com'], limits: { rpm: 10, tpm: 1000, concurrency: 2 }, metadata: { team: 'x' } },
    ],
    jwt: { jwks_url: 'https://idp.example.com/.well-known/jwks.json', issuer: 'https://idp.example.com/', audience: ['switchyard'], algorithms: ['RS256'], clock_tolerance: '10s', jwks_cooldown: '1m', claims: { org: 'tenant', scopes: 'scp', key: 'client_id' } },
    required_scopes: { read: ['read'], write: ['write'] },
    cache_ttl: '2s',
    stale_ttl: '0s',
    negative_cache_ttl: '1s',
    cache_size: 100,
    last_used_interval: '1m',
  };
  t.same(check(config), []);
});

t.test('jwt gets its claim defaults', async (t) => {
  const config = { jwt: { secret: 's'.repeat(32) } };
  t.same(check(config), []);
  t.same(config.jwt, { secret: 's'.repeat(32), clock_tolerance: '30s', jwks_cooldown: '30s', claims: { org: 'org_id', scopes: 'scope', key: 'sub' } });
});

t.test('rejects what would be unsafe or a typo, naming the field', async (t) => {
  t.same(check({ keyz: ['sql'] }), ["pipeline[0].auth.keyz: unknown field 'keyz' (did you mean 'keys'?)"]);
  t.match(check({ keys: ['ldap'] })[0], /^pipeline\[0\]\.auth\.keys\[0\]: /);
  t.match(check({ static: [{ name: 'a', key: 'k' }] })[0], /^pipeline\[0\]\.auth\.static\[0\]: missing required field 'org'/);
  t.match(check({ static: [{ name: 'a', sha256: 'xyz', org: 'o' }] })[0], /^pipeline\[0\]\.auth\.static\[0\]\.sha256: /);
  t.match(check({ static: [{ name: 'a', key: 'k', org: 'o', scopes: ['root'] }] })[0], /^pipeline\[0\]\.auth\.static\[0\]\.scopes\[0\]: /);
  t.match(check({ jwt: { secret: 'short' } })[0], /^pipeline\[0\]\.auth\.jwt\.secret: /);
  t.match(check({ jwt: { secret: 's'.repeat(32), algorithms: ['none'] } })[0], /^pipeline\[0\]\.auth\.jwt\.algorithms\[0\]: /);
  t.match(check({ cache_ttl: 'soon' })[0], /^pipeline\[0\]\.auth\.cache_ttl: /);
});
