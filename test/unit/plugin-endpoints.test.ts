/**
 * Client endpoints a plugin serves (`PluginDefinition.endpoints`): matched by the core (also under
 * `/api/v1`), run through the pipeline so `auth` applies, answered by the plugin; a pipeline that
 * does not run the plugin answers 404 `endpoint_not_enabled`; a wrong method is a 405 naming the
 * allowed ones; `{id}` takes the rest of the path, percent-decoded.
 */
import t from 'tap';
import { definePlugin, type PluginRegistry } from '../../core/plugin.js';
import { builtinPlugins } from '../../plugins/index.js';
import { startGateway } from '../helpers/gateway.js';

const echo = definePlugin({
  name: 'echo-endpoints',
  schema: { type: 'object' },
  after: ['auth'],
  endpoints: [
    { method: 'GET', path: '/v1/echo', name: 'echo.list' },
    { method: 'POST', path: '/v1/echo', name: 'echo.create' },
    { method: 'GET', path: '/v1/echo/{id}', name: 'echo.get' },
    { method: 'DELETE', path: '/v1/echo/{id}', name: 'echo.delete' },
  ],
  create() {
    return {
      async handle(ctx, next) {
        if (ctx.endpoint !== 'plugin' || ctx.pluginRoute?.plugin !== 'echo-endpoints') return next();
        ctx.response = {
          status: 200,
          headers: {},
          body: { name: ctx.pluginRoute.name, param: ctx.pluginRoute.param ?? null, org: ctx.auth?.orgId ?? null, body: ctx.body ?? null, model: ctx.model ?? null },
        };
      },
    };
  },
});

const plugins: PluginRegistry = new Map([...builtinPlugins, ['echo-endpoints', echo]]) as PluginRegistry;
const KEY = 'sk-plugin-endpoints-0123456789abcdef';

function config(withPlugin: boolean): string {
  return `version: 1
providers: { demo: { adapter: mock } }
models: { demo: { targets: [{ provider: demo }] } }
pipeline:
  - auth: { keys: [static], static: [{ name: k, key: "${KEY}", org: acme, scopes: [read, write] }] }
${withPlugin ? '  - echo-endpoints: {}\n' : ''}  - route
`;
}

t.test('a plugin answers its endpoints through the pipeline', async (t) => {
  const gw = await startGateway(config(true), { plugins });
  t.teardown(() => gw.close());
  const call = async (method: string, path: string, body?: unknown, key = KEY) => {
    const res = await fetch(`${gw.url}${path}`, {
      method,
      headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, allow: res.headers.get('allow'), body: (await res.json()) as Record<string, unknown> };
  };

  t.match(await call('GET', '/v1/echo'), { status: 200, body: { name: 'echo.list', param: null, org: 'acme', model: null } });
  t.match(await call('POST', '/v1/echo', { hello: 'world' }), { status: 200, body: { name: 'echo.create', body: { hello: 'world' } } }, "a POST's JSON body is read");
  t.match(await call('GET', '/v1/echo/abc%2Fdef'), { status: 200, body: { name: 'echo.get', param: 'abc/def' } }, '{id} is percent-decoded');
  t.match(await call('GET', '/api/v1/echo/x1'), { status: 200, body: { name: 'echo.get', param: 'x1' } }, 'served under /api/v1 too');
  t.match(await call('DELETE', '/v1/echo/x1'), { status: 200, body: { name: 'echo.delete' } });
  const wrong = await call('PUT', '/v1/echo/x1');
  t.equal(wrong.status, 405);
  t.equal(wrong.allow, 'GET, DELETE', 'a wrong method names the allowed ones');
  t.match(wrong.body, { error: { code: 'method_not_allowed' } });
  t.match(await call('GET', '/v1/echo', undefined, ''), { status: 401, body: { error: { code: 'missing_api_key' } } }, 'auth runs first');
  t.match(await call('POST', '/v1/echo', undefined), { status: 200, body: { body: null } }, 'an empty POST body is no body');
  t.match(await call('GET', '/v1/echo/%E0%A4%A'), { status: 400, body: { error: { code: 'invalid_path' } } });
});

t.test('a pipeline without the plugin says so', async (t) => {
  const gw = await startGateway(config(false), { plugins });
  t.teardown(() => gw.close());
  const res = await fetch(`${gw.url}/v1/echo/1`, { headers: { authorization: `Bearer ${KEY}` } });
  t.equal(res.status, 404);
  const body = (await res.json()) as { error: { code: string; message: string } };
  t.equal(body.error.code, 'endpoint_not_enabled');
  t.match(body.error.message, /`echo-endpoints` plugin/);
});
