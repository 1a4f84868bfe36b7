/**
 * The access log leaves out probes and scrapes (`GET /health`, `/ready`, `/metrics`) unless
 * `server.access_log_probes` is on; every other request still gets its line.
 */
import t from 'tap';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import type { RequestRecord } from '../../core/record.js';

const config = (probes?: boolean) => `version: 1
server: { drain_delay: 0s${probes === undefined ? '' : `, access_log_probes: ${probes}`} }
providers:
  demo: { adapter: mock }
models:
  demo: { targets: [{ provider: demo }] }
pipeline:
  - route
`;

/** Sends one request per path and resolves once each request's record went to the subscribers (the access log among them). */
async function call(gw: TestGateway, paths: string[]): Promise<void> {
  const ids = new Set(paths.map((_, i) => `probe-test-${Date.now()}-${i}`));
  const recorded = new Promise<void>((resolve) => {
    const unsubscribe = gw.gateway.records.subscribe((r: RequestRecord) => {
      ids.delete(r.id);
      if (ids.size === 0) {
        unsubscribe();
        resolve();
      }
    });
  });
  const sent = [...ids];
  await Promise.all(
    paths.map(async (path, i) => {
      const init: RequestInit = path === '/v1/chat/completions'
        ? { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': sent[i]! }, body: JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: 'hi' }] }) }
        : { headers: { 'x-request-id': sent[i]! } };
      const res = await fetch(`${gw.url}${path}`, init);
      await res.arrayBuffer();
    }),
  );
  await recorded;
}

const accessPaths = (gw: TestGateway) => gw.logs.filter((l) => l['msg'] === 'request').map((l) => l['path']);

t.test('probes and scrapes are not access-logged by default; other requests are', async (t) => {
  const gw = await startGateway(config());
  t.teardown(() => gw.close());
  await call(gw, ['/health', '/ready', '/metrics', '/v1/models', '/v1/chat/completions', '/healthz']);
  t.same(accessPaths(gw).sort(), ['/healthz', '/v1/chat/completions', '/v1/models']);
});

t.test('server.access_log_probes: true logs them, and takes effect on reload', async (t) => {
  const gw = await startGateway(config(false));
  t.teardown(() => gw.close());
  await call(gw, ['/health', '/ready', '/metrics']);
  t.same(accessPaths(gw), [], 'off: no lines');

  await gw.write(config(true));
  const reload = await gw.gateway.reload();
  t.equal(reload.ok, true, 'reloaded');
  await call(gw, ['/health', '/ready', '/metrics']);
  t.same(accessPaths(gw).sort(), ['/health', '/metrics', '/ready'], 'on: one line each');
  const ready = gw.logs.find((l) => l['path'] === '/ready')!;
  t.equal(ready['status'], 200);
});

t.test('server.access_log: false still silences everything, probes included', async (t) => {
  const gw = await startGateway(config(true).replace('access_log_probes: true', 'access_log_probes: true, access_log: false'));
  t.teardown(() => gw.close());
  await call(gw, ['/health', '/v1/models']);
  t.same(accessPaths(gw), []);
});
