import t from 'tap';
import { startGateway, openaiConfig, type TestGateway } from '../helpers/gateway.js';

const ADMIN_KEY = 'sk-admin-test-0123456789abcdef';

async function call(gw: TestGateway, method: string, path: string, options: { key?: string; body?: unknown; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...options.headers };
  if (options.key) headers['authorization'] = `Bearer ${options.key}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${gw.url}${path}`, { method, headers, body: options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: (text ? JSON.parse(text) : undefined) as Record<string, any> };
}

const yaml = openaiConfig('http://127.0.0.1:9/v1', 'stores: { kv: memory, sql: { pglite: memory } }\n');

t.test('admin API', async (t) => {
  const gw = await startGateway(yaml, { env: { ...process.env, SWITCHYARD_ADMIN_KEY: ADMIN_KEY } });
  t.teardown(() => gw.close());

  t.test('rejects a missing credential with 401 in the OpenAI envelope, with a request id', async (t) => {
    const r = await call(gw, 'GET', '/admin/config/status');
    t.equal(r.status, 401);
    t.equal(r.json.error.type, 'authentication_error');
    t.equal(r.json.error.code, 'missing_api_key');
    t.ok(r.json.error.request_id);
    t.equal(r.headers.get('x-request-id'), r.json.error.request_id);
  });

  t.test('rejects a wrong credential in every header form with the same 401', async (t) => {
    const forms: Record<string, string>[] = [{ authorization: `Bearer ${ADMIN_KEY}x` }, { 'x-api-key': 'nope-nope-nope-nope' }, { 'api-key': ADMIN_KEY.slice(0, -1) }, { authorization: 'Basic Zm9vOmJhcg==' }];
    for (const headers of forms) {
      const r = await call(gw, 'GET', '/admin/config/status', { headers });
      t.equal(r.status, 401, JSON.stringify(Object.keys(headers)));
      t.notMatch(r.text, ADMIN_KEY.slice(8), 'the secret is not echoed');
    }
  });

  t.test('every documented route rejects missing and wrong credentials before doing anything', async (t) => {
    const doc = await call(gw, 'GET', '/admin/openapi.json', { key: ADMIN_KEY });
    t.equal(doc.status, 200);
    const paths = doc.json.paths as Record<string, Record<string, unknown>>;
    let checked = 0;
    for (const [template, ops] of Object.entries(paths)) {
      const path = template.replace(/\{\w+\}/g, 'x_does_not_exist');
      for (const method of Object.keys(ops)) {
        for (const key of [undefined, 'sk-sy-live-wrong-key-000000000000000000000']) {
          const r = await call(gw, method.toUpperCase(), path, { key, body: method === 'get' || method === 'delete' ? undefined : {} });
          t.equal(r.status, 401, `${method} ${template} with ${key ? 'a wrong' : 'no'} credential`);
          checked++;
        }
      }
    }
    t.ok(checked >= 6, `checked ${checked} route/credential pairs`);
    t.equal((await call(gw, 'GET', '/admin/openapi.json')).status, 401, 'the OpenAPI document needs a credential too');
  });

  t.test('serves a well-formed OpenAPI 3.1 document that lists every route with its schemas', async (t) => {
    const doc = (await call(gw, 'GET', '/admin/openapi.json', { key: ADMIN_KEY })).json;
    t.equal(doc.openapi, '3.1.0');
    const ops = Object.values(doc.paths as Record<string, Record<string, any>>).flatMap((p) => Object.values(p));
    const ids = ops.map((o) => o.operationId);
    t.equal(new Set(ids).size, ids.length, 'operation ids are unique');
    for (const op of ops) {
      t.ok(op.summary, `${op.operationId} has a summary`);
      t.ok(op.responses['401'], `${op.operationId} documents 401`);
    }
    t.ok(doc.paths['/admin/config/status'].get);
    t.ok(doc.paths['/admin/config/reload'].post.requestBody);
  });

  t.test('answers config status, and unknown routes and methods in the envelope', async (t) => {
    const s = await call(gw, 'GET', '/admin/config/status', { key: ADMIN_KEY });
    t.equal(s.status, 200);
    t.equal(s.json.object, 'config.status');
    t.equal(s.json.version, 0);
    t.equal(s.headers.get('cache-control'), 'no-store');
    const missing = await call(gw, 'GET', '/admin/nothing-here', { key: ADMIN_KEY });
    t.equal(missing.status, 404);
    t.equal(missing.json.error.code, 'unknown_url');
    const wrongMethod = await call(gw, 'DELETE', '/admin/config/status', { key: ADMIN_KEY });
    t.equal(wrongMethod.status, 405);
    t.equal(wrongMethod.headers.get('allow'), 'GET');
  });

  t.test('validates bodies: unknown fields and malformed JSON are 400s naming the problem', async (t) => {
    const extra = await call(gw, 'POST', '/admin/config/reload', { key: ADMIN_KEY, body: { force: true } });
    t.equal(extra.status, 400);
    t.equal(extra.json.error.param, 'force');
    const broken = await call(gw, 'POST', '/admin/config/reload', { key: ADMIN_KEY, body: '{"oops":' });
    t.equal(broken.status, 400);
    t.equal(broken.json.error.code, 'invalid_json');
  });

  t.test('shows the config with every credential redacted', async (t) => {
    const r = await call(gw, 'GET', '/admin/config', { key: ADMIN_KEY });
    t.equal(r.status, 200);
    t.equal(r.json.config.providers.up.api_key, '[redacted]');
    t.notMatch(r.text, 'sk-upstream-secret');
    t.equal(r.json.config.providers.up.base_url, 'http://127.0.0.1:9/v1');
  });

  t.test('reloads on demand: a broken file is refused with file, line and field, and the old version keeps serving', async (t) => {
    await gw.write(`${yaml}\nserver: { body_limit: lots }\n`);
    const bad = await call(gw, 'POST', '/admin/config/reload', { key: ADMIN_KEY, body: {} });
    t.equal(bad.status, 422);
    t.equal(bad.json.ok, false);
    t.match(bad.json.errors[0], /gateway\.yaml:\d+:\d+: server\.body_limit/);
    const status = await call(gw, 'GET', '/admin/config/status', { key: ADMIN_KEY });
    t.equal(status.json.version, 0);
    t.equal(status.json.last_reload.ok, false);
    await gw.write(`${yaml}\nserver: { body_limit: 1mb }\n`);
    const good = await call(gw, 'POST', '/admin/config/reload', { key: ADMIN_KEY });
    t.equal(good.status, 200);
    t.same([good.json.ok, good.json.changed, good.json.version], [true, true, 1]);
  });
});

t.test('without SWITCHYARD_ADMIN_KEY every admin call is refused, saying the secret is not set', async (t) => {
  const gw = await startGateway(yaml, { env: { ...process.env, SWITCHYARD_ADMIN_KEY: undefined } });
  t.teardown(() => gw.close());
  const r = await call(gw, 'GET', '/admin/config/status', { key: ADMIN_KEY });
  t.equal(r.status, 401);
  t.equal(r.json.error.code, 'admin_key_not_set');
  t.match(r.json.error.message, /not set on this gateway: start it with SWITCHYARD_ADMIN_KEY/);
  t.notMatch(r.text, 'Incorrect API key');
  const none = await call(gw, 'GET', '/admin/config/status');
  t.equal(none.json.error.code, 'missing_api_key');
  t.match(none.json.error.message, /no SWITCHYARD_ADMIN_KEY/);
  const wrongAdminKey = await call(gw, 'GET', '/admin/config/status', { key: 'sk-sy-live-wrong-key-000000000000000000000' });
  t.equal(wrongAdminKey.json.error.code, 'invalid_api_key', 'a wrong API key is still just wrong');
});

t.test('GET /admin/config redacts every credential and nothing else', async (t) => {
  const sha = 'ab'.repeat(32);
  const gw = await startGateway(
    `version: 1
providers:
  up:
    adapter: openai
    base_url: "http://127.0.0.1:9/v1?api-key=query-secret&api-version=2024-10-21"
    api_key: sk-upstream-secret
    headers: { X-Custom: "Bearer header-bearer-secret", OpenAI-Organization: org-visible }
  giga: { adapter: gigachat, client_id: visible-client-id, client_secret: giga-client-secret, token_refresh_margin: 60s }
  giga2: { adapter: gigachat, credentials: giga-credentials-secret }
  ya: { adapter: yandex, folder_id: visible-folder, iam_token: yandex-iam-secret }
models:
  m: { targets: [{ provider: up }] }
pipeline:
  - auth:
      keys: [static]
      static:
        - { name: ci, key: static-key-secret, org: o }
        - { name: ci2, sha256: ${sha}, org: o }
      jwt: { secret: jwt-secret-0123456789abcdef0123456789, claims: { key: sub } }
  - transform:
      rules:
        - request:
            default: { max_tokens: 1024 }
            headers: { set: { x-api-key: transform-secret, Authorization: "Bearer transform-bearer-secret", X-Auth-Token: x-auth-secret, Cookie: cookie-secret, X-Team: blue } }
  - route
routes:
  - { path: /raw/*, upstream: "http://raw-user:raw-password@127.0.0.1:9", pipeline: [] }
  - { path: /tok/*, upstream: "http://url-token-secret@127.0.0.1:9", pipeline: [] }
`,
    { env: { ...process.env, SWITCHYARD_ADMIN_KEY: ADMIN_KEY } },
  );
  t.teardown(() => gw.close());
  const r = await call(gw, 'GET', '/admin/config', { key: ADMIN_KEY });
  t.equal(r.status, 200);
  const secrets = ['query-secret', 'sk-upstream-secret', 'header-bearer-secret', 'giga-client-secret', 'giga-credentials-secret', 'yandex-iam-secret', 'static-key-secret', sha, 'jwt-secret', 'transform-secret', 'transform-bearer-secret', 'x-auth-secret', 'cookie-secret', 'raw-password', 'url-token-secret'];
  for (const secret of secrets) t.notMatch(r.text, secret, `${secret} is redacted`);
  const c = r.json.config;
  t.same(c.pipeline[0].auth.keys, ['static'], 'the key sources are not secrets');
  t.same(c.pipeline[0].auth.jwt.claims, { key: 'sub', org: 'org_id', scopes: 'scope' }, 'JWT claim names are not secrets');
  t.same(c.pipeline[1].transform.rules[0].request.default, { max_tokens: 1024 });
  t.equal(c.pipeline[1].transform.rules[0].request.headers.set['X-Team'], 'blue');
  t.equal(c.providers.up.headers['OpenAI-Organization'], 'org-visible');
  t.equal(c.providers.up.base_url, 'http://127.0.0.1:9/v1?api-key=[redacted]&api-version=2024-10-21');
  t.same([c.providers.giga.client_id, c.providers.giga.token_refresh_margin, c.providers.ya.folder_id], ['visible-client-id', '60s', 'visible-folder']);
  t.equal(c.routes[0].upstream, 'http://raw-user:[redacted]@127.0.0.1:9');
  t.equal(c.routes[1].upstream, 'http://[redacted]@127.0.0.1:9');
});

t.test('a too-short SWITCHYARD_ADMIN_KEY stops the gateway from starting', async (t) => {
  await t.rejects(startGateway(yaml, { env: { ...process.env, SWITCHYARD_ADMIN_KEY: 'short' } }), /at least 16 characters/);
});
