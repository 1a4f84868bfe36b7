/**
 * A gateway key never appears in a log line, an error body or a metric — whatever happens to the
 * request: success, unknown key, wrong key, missing scope, disallowed model, revoked key, bad JWT.
 * Logs are captured at debug level, so nothing hides below the default level.
 */
import t from 'tap';
import { SignJWT } from 'jose';
import { startGateway } from '../helpers/gateway.js';
import { IdentityStore } from '../../plugins/auth/identity-store.js';
import { publishIdentityChange } from '../../plugins/auth/events.js';

const STATIC_KEY = 'sk-static-never-log-me-0123456789';
const READ_KEY = 'sk-static-read-only-never-log-me-42';
const JWT_SECRET = 'jwt-secret-never-log-me-0123456789abcdef';

t.test('keys and tokens never reach logs, error bodies or /metrics', async (t) => {
  const gw = await startGateway(
    `version: 1
stores: { kv: memory, sql: { pglite: memory } }
providers:
  demo: { adapter: mock }
models:
  demo: { targets: [{ provider: demo }] }
  other: { targets: [{ provider: demo }] }
pipeline:
  - auth:
      keys: [sql, static]
      static:
        - { name: static-full, key: ${STATIC_KEY}, org: acme, allowed_models: [demo] }
        - { name: static-read, key: ${READ_KEY}, org: acme, scopes: [read] }
      jwt: { secret: ${JWT_SECRET} }
  - route
`,
    { level: 'debug' },
  );
  t.teardown(() => gw.close());
  const store = new IdentityStore(await gw.gateway.stores.sql());
  const serverSecret = await gw.gateway.stores.serverSecret();
  await store.createOrg({ slug: 'acme', name: 'Acme' });
  const { secret: sqlKey, record } = await store.createKey(serverSecret, 'acme');
  const { secret: revokedKey, record: revoked } = await store.createKey(serverSecret, 'acme');
  const wrongKey = `${sqlKey.slice(0, -6)}XXXXXX`;
  const jwtKey = new TextEncoder().encode(JWT_SECRET);
  const goodJwt = await new SignJWT({ org_id: 'acme', scope: 'write' }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('5m').sign(jwtKey);
  const expiredJwt = await new SignJWT({ org_id: 'acme', scope: 'write' }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime(Math.floor(Date.now() / 1000) - 3600).sign(jwtKey);
  const forgedJwt = await new SignJWT({ org_id: 'acme', scope: 'write' }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('5m').sign(new TextEncoder().encode('x'.repeat(40)));

  const bodies: string[] = [];
  const send = async (key: string, model = 'demo', header = 'authorization') => {
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [header]: header === 'authorization' ? `Bearer ${key}` : key },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
    });
    bodies.push(await res.text());
    return res.status;
  };

  t.equal(await send(sqlKey), 200, 'sql key');
  t.equal(await send(sqlKey, 'demo', 'x-api-key'), 200, 'sql key in x-api-key');
  t.equal(await send(STATIC_KEY), 200, 'static key');
  t.equal(await send(goodJwt), 200, 'jwt');
  t.equal(await send(wrongKey), 401, 'wrong key');
  t.equal(await send(wrongKey, 'demo', 'api-key'), 401, 'wrong key in api-key');
  t.equal(await send(READ_KEY), 403, 'missing scope');
  t.equal(await send(STATIC_KEY, 'other'), 403, 'model not allowed');
  t.equal(await send(revokedKey), 200, 'before revocation');
  await store.revokeKey(revoked.id);
  await publishIdentityChange(gw.gateway.stores.kv, { keyId: revoked.id });
  t.equal(await send(revokedKey), 401, 'revoked key');
  t.equal(await send(expiredJwt), 401, 'expired jwt');
  t.equal(await send(forgedJwt), 401, 'forged jwt');
  const metrics = await (await fetch(`${gw.url}/metrics`)).text();

  const secrets = { sqlKey, wrongKey, revokedKey, STATIC_KEY, READ_KEY, JWT_SECRET, goodJwt, expiredJwt, forgedJwt };
  const logText = gw.logText();
  t.ok(gw.logs.length >= 12, 'the logs were captured');
  t.ok(logText.includes(record.id) || logText.includes(revoked.id), 'key ids are logged');
  for (const [name, value] of Object.entries(secrets)) {
    // The secret part of a key (past its visible prefix), so a logged prefix does not count as a leak.
    const secretPart = value.slice(16);
    t.notOk(logText.includes(secretPart), `${name} is not in the logs`);
    t.notOk(bodies.some((b) => b.includes(secretPart)), `${name} is not in an error body`);
    t.notOk(metrics.includes(secretPart), `${name} is not in /metrics`);
  }
});
