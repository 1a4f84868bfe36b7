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

t.test('without SWITCHYARD_ADMIN_KEY or admin keys, every admin call is refused', async (t) => {
  const gw = await startGateway(yaml, { env: { ...process.env, SWITCHYARD_ADMIN_KEY: undefined } });
  t.teardown(() => gw.close());
  const r = await call(gw, 'GET', '/admin/config/status', { key: ADMIN_KEY });
  t.equal(r.status, 401);
});

t.test('a too-short SWITCHYARD_ADMIN_KEY stops the gateway from starting', async (t) => {
  await t.rejects(startGateway(yaml, { env: { ...process.env, SWITCHYARD_ADMIN_KEY: 'short' } }), /at least 16 characters/);
});
