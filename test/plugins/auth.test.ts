/**
 * `auth` with static keys, through a real in-process gateway in front of a mock OpenAI upstream:
 * where credentials are read from, what a key may do (scopes, models, referrers), what later
 * plugins see in `ctx.auth`, that the gateway key never reaches an upstream, and the dev-key guard.
 */
import t from 'tap';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway, openaiConfig, type TestGateway } from '../helpers/gateway.js';
import { startMockOpenAI, type MockOpenAI } from '../helpers/mock-openai.js';
import { sha256Hex } from '../../plugins/auth/keys.js';
import { DEV_KEY, isLoopbackListen } from '../../plugins/auth/dev-key.js';

const FULL_KEY = 'sk-test-full-0123456789abcdef';
const READ_KEY = 'sk-test-read-0123456789abcdef';
const HASHED_KEY = 'sk-test-hashed-0123456789abcdef';

let upstream: MockOpenAI;
let pluginDir: string;
/** A custom plugin that answers with `ctx.auth` as JSON, so a test can see what `auth` set. */
let echoAuth: string;

t.before(async () => {
  upstream = await startMockOpenAI();
  pluginDir = await mkdtemp(join(tmpdir(), 'switchyard-auth-echo-'));
  echoAuth = join(pluginDir, 'echo-auth.ts');
  await writeFile(
    echoAuth,
    `export default { name: 'echo-auth', schema: { type: 'object' }, create() { return { async handle(ctx) { ctx.response = { status: 200, headers: {}, body: ctx.auth ?? null }; } }; } };\n`,
  );
});
t.afterEach(() => upstream.reset());
t.teardown(async () => {
  await upstream.close();
  await rm(pluginDir, { recursive: true, force: true });
});

const staticKeys = `
      keys: [static]
      static:
        - { name: full, key: ${FULL_KEY}, org: acme, scopes: [read, write], allowed_models: ["gpt-4o*", demo], metadata: { team: platform }, limits: { rpm: 60 } }
        - { name: reader, key: ${READ_KEY}, org: acme, scopes: [read], environment: test }
        - { name: hashed, sha256: ${sha256Hex(HASHED_KEY)}, org: beta, allowed_referrers: [app.example.com, "*.example.org"] }`;

async function gatewayWith(extraPipeline = '', routes = ''): Promise<TestGateway> {
  return startGateway(openaiConfig(upstream.baseUrl, `pipeline:\n  - auth:${staticKeys}\n${extraPipeline}  - route\n${routes}`));
}

const chat = (model = 'gpt-4o-mini') => JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] });

async function call(gw: TestGateway, headers: Record<string, string>, init: { method?: string; path?: string; body?: string } = {}) {
  const method = init.method ?? 'POST';
  const res = await fetch(`${gw.url}${init.path ?? '/v1/chat/completions'}`, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    ...(method === 'GET' ? {} : { body: init.body ?? chat() }),
  });
  const text = await res.text();
  return { res, json: JSON.parse(text) as Record<string, any>, text };
}

t.test('a request without a credential gets 401 missing_api_key in the OpenAI envelope', async (t) => {
  const gw = await gatewayWith();
  t.teardown(() => gw.close());
  const { res, json } = await call(gw, {});
  t.equal(res.status, 401);
  t.equal(json.error.code, 'missing_api_key');
  t.equal(json.error.type, 'authentication_error');
  t.ok(json.error.request_id, 'carries the request id');
  t.match(res.headers.get('www-authenticate'), /^Bearer/);
  t.equal(upstream.requests.length, 0, 'nothing reached the upstream');
});

t.test('accepts the key from Authorization: Bearer, x-api-key and api-key', async (t) => {
  const gw = await gatewayWith();
  t.teardown(() => gw.close());
  const forms: Record<string, string>[] = [{ authorization: `Bearer ${FULL_KEY}` }, { authorization: `bearer ${FULL_KEY}` }, { 'x-api-key': FULL_KEY }, { 'api-key': FULL_KEY }];
  for (const headers of forms) {
    const { res } = await call(gw, headers);
    t.equal(res.status, 200, Object.keys(headers).join());
  }
  t.equal(upstream.requests.length, 4);
});

t.test('an unknown key gets 401 invalid_api_key with a message that does not echo the key', async (t) => {
  const gw = await gatewayWith();
  t.teardown(() => gw.close());
  const { res, json, text } = await call(gw, { authorization: 'Bearer sk-test-full-0123456789abcdeX' });
  t.equal(res.status, 401);
  t.equal(json.error.code, 'invalid_api_key');
  t.equal(json.error.message, 'Incorrect API key provided.');
  t.notMatch(text, /sk-test/);
});

t.test('a key declared by its sha256 works like a plain one', async (t) => {
  const gw = await gatewayWith();
  t.teardown(() => gw.close());
  const { res } = await call(gw, { authorization: `Bearer ${HASHED_KEY}`, origin: 'https://app.example.com' });
  t.equal(res.status, 200);
});

t.test('a read-only key can list models but not call them (403 insufficient_scope)', async (t) => {
  const gw = await gatewayWith();
  t.teardown(() => gw.close());
  const list = await call(gw, { authorization: `Bearer ${READ_KEY}` }, { method: 'GET', path: '/v1/models' });
  t.equal(list.res.status, 200);
  const post = await call(gw, { authorization: `Bearer ${READ_KEY}` });
  t.equal(post.res.status, 403);
  t.equal(post.json.error.type, 'permission_error');
  t.equal(post.json.error.code, 'insufficient_scope');
  t.equal(upstream.requests.length, 0);
});

t.test('required_scopes is configurable', async (t) => {
  const gw = await startGateway(
    openaiConfig(upstream.baseUrl, `pipeline:\n  - auth:${staticKeys}\n      required_scopes: { read: [write] }\n  - route\n`),
  );
  t.teardown(() => gw.close());
  const list = await call(gw, { authorization: `Bearer ${READ_KEY}` }, { method: 'GET', path: '/v1/models' });
  t.equal(list.res.status, 403, 'reading now needs write');
  const full = await call(gw, { authorization: `Bearer ${FULL_KEY}` }, { method: 'GET', path: '/v1/models' });
  t.equal(full.res.status, 200);
});

t.test('a model outside the key\'s globs gets 403 model_not_allowed naming the model param', async (t) => {
  const gw = await gatewayWith();
  t.teardown(() => gw.close());
  const ok = await call(gw, { authorization: `Bearer ${FULL_KEY}` }, { body: chat('gpt-4o-mini') });
  t.equal(ok.res.status, 200, 'a glob match passes');
  const denied = await call(gw, { authorization: `Bearer ${FULL_KEY}` }, { body: chat('gpt-3.5-turbo-instruct') });
  t.equal(denied.res.status, 403);
  t.equal(denied.json.error.code, 'model_not_allowed');
  t.equal(denied.json.error.param, 'model');
  const retrieve = await call(gw, { authorization: `Bearer ${FULL_KEY}` }, { method: 'GET', path: '/v1/models/text-embedding-3-small' });
  t.equal(retrieve.res.status, 403, 'GET /v1/models/{id} is checked too');
  t.equal(upstream.requests.length, 1);
});

t.test("GET /v1/models lists only the models a key may use; an unrestricted key sees them all", async (t) => {
  const gw = await gatewayWith();
  t.teardown(() => gw.close());
  const ids = async (key: string) => ((await call(gw, { authorization: `Bearer ${key}` }, { method: 'GET', path: '/v1/models' })).json.data as { id: string }[]).map((m) => m.id).sort();
  const all = await ids(READ_KEY);
  t.ok(all.includes('text-embedding-3-small') && all.includes('gpt-4o-mini'), 'an unrestricted key sees every model');
  const limited = await ids(FULL_KEY);
  t.same(limited, all.filter((id) => id.startsWith('gpt-4o') || id === 'demo'), 'a key limited to gpt-4o* and demo sees exactly those');
  t.ok(limited.length >= 2 && limited.length < all.length);
});

t.test('a referrer-restricted key needs a matching Origin or Referer', async (t) => {
  const gw = await gatewayWith();
  t.teardown(() => gw.close());
  const key = { authorization: `Bearer ${HASHED_KEY}` };
  t.equal((await call(gw, { ...key, origin: 'https://app.example.com' })).res.status, 200, 'exact host');
  t.equal((await call(gw, { ...key, referer: 'https://docs.example.org/page?q=1' })).res.status, 200, 'wildcard subdomain');
  const wrong = await call(gw, { ...key, origin: 'https://evil.example.com' });
  t.equal(wrong.res.status, 403);
  t.equal(wrong.json.error.code, 'referrer_not_allowed');
  t.equal((await call(gw, { ...key, origin: 'https://example.org' })).res.status, 403, 'the wildcard does not cover the apex');
  t.equal((await call(gw, { ...key, origin: 'https://app.example.com.evil.net' })).res.status, 403, 'a suffix trick does not match');
  t.equal((await call(gw, key)).res.status, 403, 'no Origin or Referer at all');
});

t.test('ctx.auth carries the org, key id, scopes, environment, models, limits and metadata', async (t) => {
  const gw = await gatewayWith(`  - use: ${echoAuth}\n`);
  t.teardown(() => gw.close());
  const { res, json } = await call(gw, { authorization: `Bearer ${FULL_KEY}` });
  t.equal(res.status, 200);
  t.match(json, { method: 'static_key', orgId: 'acme', keyId: 'full', scopes: ['read', 'write'], environment: 'live', allowedModels: ['gpt-4o*', 'demo'], allowedIps: [], limits: { rpm: 60 }, metadata: { team: 'platform' } });
  const reader = await call(gw, { authorization: `Bearer ${READ_KEY}` }, { method: 'GET', path: '/v1/models' });
  t.match(reader.json, { keyId: 'reader', environment: 'test', scopes: ['read'] });
});

t.test('the gateway key never reaches a model upstream: the provider key is sent instead', async (t) => {
  const gw = await gatewayWith();
  t.teardown(() => gw.close());
  await call(gw, { authorization: `Bearer ${FULL_KEY}`, 'x-api-key': FULL_KEY, 'api-key': FULL_KEY });
  const seen = upstream.requests.at(-1)!;
  t.equal(seen.headers['authorization'], 'Bearer sk-upstream-secret');
  t.notOk(JSON.stringify(seen.headers).includes(FULL_KEY), 'no header carries the gateway key');
});

t.test('the gateway key is taken off a raw proxy request before it is forwarded', async (t) => {
  const gw = await startGateway(
    openaiConfig(
      upstream.baseUrl,
      `pipeline:\n  - route\nroutes:\n  - path: /internal/*\n    upstream: "${upstream.url}"\n    pipeline:\n      - auth:${staticKeys.replace(/\n/g, '\n    ')}\n`,
    ),
  );
  t.teardown(() => gw.close());
  const refused = await fetch(`${gw.url}/internal/search`);
  t.equal(refused.status, 401, 'the route runs auth');
  const res = await fetch(`${gw.url}/internal/search`, { headers: { authorization: `Bearer ${FULL_KEY}`, 'x-api-key': FULL_KEY, 'api-key': FULL_KEY, 'x-keep': 'yes' } });
  await res.text();
  const seen = upstream.requests.at(-1)!;
  t.equal(seen.url, '/internal/search');
  t.equal(seen.headers['x-keep'], 'yes', 'other headers pass');
  t.notOk(JSON.stringify(seen.headers).includes(FULL_KEY), 'no header carries the gateway key');
});

t.test('refusals are counted by bounded reason in switchyard_auth_failures_total', async (t) => {
  const gw = await gatewayWith();
  t.teardown(() => gw.close());
  await call(gw, {});
  await call(gw, { authorization: 'Bearer sk-nope' });
  await call(gw, { authorization: 'Bearer sk-nope-2' });
  await call(gw, { authorization: `Bearer ${READ_KEY}` });
  const metrics = await (await fetch(`${gw.url}/metrics`)).text();
  t.match(metrics, /switchyard_auth_failures_total\{reason="missing"\} 1/);
  t.match(metrics, /switchyard_auth_failures_total\{reason="invalid"\} 2/);
  t.match(metrics, /switchyard_auth_failures_total\{reason="scope"\} 1/);
  t.notMatch(metrics, /sk-nope|sk-test/, 'no key in any label');
});

t.test('config mistakes are start-up errors naming the field', async (t) => {
  const start = (auth: string) => startGateway(openaiConfig(upstream.baseUrl, `pipeline:\n  - auth:${auth}\n  - route\n`));
  await t.rejects(start(`\n      static: [{ name: a, key: k, org: o }]`), /keys.*static/, 'static keys without `static` in keys');
  await t.rejects(start(`\n      keys: [static]\n      static: [{ name: a, key: k, sha256: ${sha256Hex('k')}, org: o }]`), /static\[0\].*exactly one of `key` and `sha256`/);
  await t.rejects(start(`\n      keys: [static]\n      static: [{ name: a, key: k, org: o, allowed_ips: [10.0.0.0/33] }]`), /static\[0\]\.allowed_ips.*10\.0\.0\.0\/33/);
  await t.rejects(start(`\n      keys: [static]\n      static: [{ name: a, key: k, org: o }, { name: b, key: k, org: o }]`), /static\[1\].*same key/);
});

t.test('the development key is refused beyond loopback, with the fix in the message', async (t) => {
  const yaml = openaiConfig(upstream.baseUrl, `pipeline:\n  - auth:\n      keys: [static]\n      static: [{ name: dev, key: ${DEV_KEY}, org: dev }]\n  - route\n`);
  const err = await startGateway(yaml, { listen: '0.0.0.0:0' }).then(
    async (gw) => {
      await gw.close();
      return undefined;
    },
    (e: Error) => e,
  );
  t.ok(err, 'the gateway did not start');
  t.match(err?.message, /static\[0\]\.key/);
  t.match(err?.message, /not a loopback address/);
  t.match(err?.message, /SWITCHYARD_DEV_KEY/);
  t.match(err?.message, /127\.0\.0\.1/);
  const local = await startGateway(yaml);
  t.teardown(() => local.close());
  t.equal((await call(local, { authorization: `Bearer ${DEV_KEY}` }, { body: chat('demo') })).res.status, 200, 'on 127.0.0.1 it works');
  const other = await startGateway(yaml.replace(`key: ${DEV_KEY}`, 'key: a-private-key-0123456789'), { listen: '0.0.0.0:0' });
  t.teardown(() => other.close());
  t.pass('any other key may listen anywhere');
});

t.test('loopback detection', async (t) => {
  for (const a of ['127.0.0.1:8080', '127.1.2.3:1', '[::1]:8080', 'localhost:80', ':8080', '8080']) t.ok(isLoopbackListen(a), a);
  for (const a of ['0.0.0.0:8080', '[::]:8080', '10.0.0.5:80', 'example.com:80', '[2001:db8::1]:80']) t.notOk(isLoopbackListen(a), a);
});

t.test('the default config accepts the documented dev key and refuses requests without it', async (t) => {
  const { readFile } = await import('node:fs/promises');
  const { packageRoot } = await import('../../core/config/schema.js');
  const yaml = await readFile(join(packageRoot(), 'config', 'gateway.yaml'), 'utf8');
  const env = { ...process.env };
  delete env['SWITCHYARD_DEV_KEY'];
  const gw = await startGateway(yaml, { env });
  t.teardown(() => gw.close());
  t.equal((await call(gw, {}, { body: chat('demo') })).res.status, 401);
  t.equal((await call(gw, { authorization: `Bearer ${DEV_KEY}` }, { body: chat('demo') })).res.status, 200);
  const custom = await startGateway(yaml, { env: { ...env, SWITCHYARD_DEV_KEY: 'sk-my-own-secret-key-42' }, listen: '0.0.0.0:0' });
  t.teardown(() => custom.close());
  t.equal((await call(custom, { authorization: `Bearer ${DEV_KEY}` }, { body: chat('demo') })).res.status, 401, 'SWITCHYARD_DEV_KEY replaces it');
  t.equal((await call(custom, { authorization: 'Bearer sk-my-own-secret-key-42' }, { body: chat('demo') })).res.status, 200);
});
