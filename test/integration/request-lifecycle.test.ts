/**
 * The request lifecycle: one model resolution per request that every plugin uses (and that no
 * alias, glob, `provider/model` form, default or rename walks around), attempts, a final usage for
 * streams however they end, token limits settled on it, post-response work that shutdown waits for,
 * process-lifetime plugin state, declared plugin order, raw proxy routes inside the onion, and one
 * record per request — model calls, proxy routes, admin calls and refusals alike.
 */
import t, { type Test } from 'tap';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { startFaultUpstream } from '../helpers/fault-upstream.js';
import type { RequestRecord } from '../../core/record.js';

/** Starts a gateway from `yaml` and collects its request records. */
async function gatewayWithRecords(t: Test, yaml: string, files: Record<string, string> = {}): Promise<{ g: TestGateway; records: RequestRecord[]; next(): Promise<RequestRecord> }> {
  const g = await startGateway(yaml);
  t.teardown(() => g.close());
  for (const [name, text] of Object.entries(files)) await writeFile(join(g.dir, name), text);
  if (Object.keys(files).length) {
    const reloaded = await g.gateway.reload();
    if (!reloaded.ok) throw new Error(reloaded.error.message);
  }
  const records: RequestRecord[] = [];
  const waiting: ((r: RequestRecord) => void)[] = [];
  g.gateway.records.subscribe((r) => {
    records.push(r);
    waiting.shift()?.(r);
  });
  let seen = 0;
  const next = () => (seen < records.length ? Promise.resolve(records[seen++]!) : new Promise<RequestRecord>((resolve) => waiting.push((r) => (seen++, resolve(r)))));
  return { g, records, next };
}

const KEY = 'sk-lifecycle-test-key';
const chat = (g: TestGateway, body: Record<string, unknown>, signal?: AbortSignal) =>
  fetch(`${g.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: JSON.stringify(body), signal });

const base = (pipeline: string, extra = '') => `version: 1
providers:
  demo: { adapter: mock, chunk_delay: 30ms, words_per_chunk: 1 }
models:
  demo: { targets: [{ provider: demo }], aliases: [demo-chat] }
  other: { targets: [{ provider: demo }] }
  "x-*": { targets: [{ provider: demo }] }
${extra}
pipeline:
${pipeline}`;

t.test('a stream the client abandons settles the tokens delivered so far: never the whole reservation, never zero', async (t) => {
  const { g, next } = await gatewayWithRecords(
    t,
    base(`  - auth: { keys: [static], static: [{ name: t, key: "${KEY}", org: acme, scopes: [read, write] }] }
  - rate-limit: { limits: [{ per: key, tpm: 100000 }] }
  - route`),
  );
  const words = Array.from({ length: 40 }, (_, i) => `word${i}`).join(' ');
  const abort = new AbortController();
  const res = await chat(g, { model: 'demo', stream: true, max_tokens: 40000, messages: [{ role: 'user', content: words }] }, abort.signal);
  t.equal(res.status, 200);
  const reader = res.body!.getReader();
  let text = '';
  while ((text.match(/"content":"word/g) ?? []).length < 3) text += new TextDecoder().decode((await reader.read()).value);
  abort.abort();
  const record = await next();
  t.equal(record.status, 499, 'recorded as the client leaving');
  t.equal(record.body, 'aborted');
  t.ok(record.usage, 'a final usage exists for the abandoned stream');
  t.equal(record.usage!.estimated, true, 'counted by the gateway, marked estimated');
  t.ok(record.usage!.completion_tokens >= 3, `at least the delivered chunks: ${record.usage!.completion_tokens}`);
  t.ok(record.usage!.completion_tokens < 40, 'not the whole answer');
  t.ok(record.usage!.prompt_tokens > 0, 'the prompt counts');
  // The token window now holds what was used, not the 40,000-token reservation.
  const after = await chat(g, { model: 'demo', messages: [{ role: 'user', content: 'hi' }] });
  await after.text();
  const remaining = Number(after.headers.get('x-ratelimit-remaining-tokens'));
  t.ok(100000 - remaining < 1000, `the abandoned stream kept only what it used (${100000 - remaining} tokens incl. the probe's reservation)`);
  t.ok(100000 - remaining > record.usage!.total_tokens, 'and not zero');
});

t.test('a stream whose upstream dies mid-way settles the tokens delivered, marked estimated', async (t) => {
  const fault = await startFaultUpstream();
  t.teardown(() => fault.close());
  const { g, next } = await gatewayWithRecords(
    t,
    `version: 1
providers:
  up: { adapter: openai, base_url: "${fault.url}/reset-mid-stream/v1", api_key: sk-up }
models:
  m: { targets: [{ provider: up }] }
pipeline:
  - auth: { keys: [static], static: [{ name: t, key: "${KEY}", org: acme, scopes: [read, write] }] }
  - rate-limit: { limits: [{ per: key, tpm: 100000 }] }
  - route`,
  );
  const res = await chat(g, { model: 'm', stream: true, max_tokens: 30000, messages: [{ role: 'user', content: 'tell me' }] });
  const text = await res.text();
  t.match(text, /upstream_stream_error/, 'the stream ends with an error event');
  const record = await next();
  t.equal(record.body, 'failed');
  t.equal(record.errorCode, 'upstream_stream_error');
  t.equal(record.usage?.estimated, true);
  t.ok((record.usage?.completion_tokens ?? 0) >= 1, 'the delivered "one" counts');
  t.ok((record.usage?.total_tokens ?? 0) < 1000, 'far below the reservation');
});

t.test('one resolution: no alias, glob, provider/model form, default or rename reaches a model outside the key’s list', async (t) => {
  const keys = `  - auth: { keys: [static], static: [{ name: t, key: "${KEY}", org: acme, scopes: [read, write], allowed_models: [demo] }] }`;
  const { g } = await gatewayWithRecords(
    t,
    base(`${keys}
  - transform: { rules: [{ match: { models: [rename-me] }, request: { model: other } }] }
  - route: { defaults: { chat: other } }`),
  );
  const status = async (body: Record<string, unknown>) => {
    const res = await chat(g, { messages: [{ role: 'user', content: 'hi' }], ...body });
    const json = (await res.json()) as { error?: { code?: string } };
    return `${res.status} ${json.error?.code ?? ''}`.trim();
  };
  t.equal(await status({ model: 'demo' }), '200');
  t.equal(await status({ model: 'demo-chat' }), '200', 'an alias of an allowed model is that model');
  t.equal(await status({ model: 'other' }), '403 model_not_allowed');
  t.equal(await status({ model: 'x-1' }), '403 model_not_allowed', 'a glob key');
  t.equal(await status({ model: 'demo/other' }), '403 model_not_allowed', 'the provider/model form');
  t.equal(await status({}), '403 model_not_allowed', 'the endpoint default when the body names no model');
  t.equal(await status({ model: 'rename-me' }), '404 model_not_found', 'an unknown id is a 404 before any rename');
});

t.test('a rename by a later plugin is checked again', async (t) => {
  const { g } = await gatewayWithRecords(
    t,
    base(`  - auth: { keys: [static], static: [{ name: t, key: "${KEY}", org: acme, scopes: [read, write], allowed_models: [demo] }] }
  - transform: { rules: [{ match: { models: [demo] }, request: { model: other } }] }
  - route`),
  );
  const res = await chat(g, { model: 'demo', messages: [{ role: 'user', content: 'hi' }] });
  t.equal(res.status, 403);
  t.equal(((await res.json()) as { error: { code: string } }).error.code, 'model_not_allowed');
});

t.test('transform rules written for a model apply to its aliases and to requests that fall to it by default', async (t) => {
  const { g } = await gatewayWithRecords(
    t,
    base(`  - transform: { rules: [{ match: { models: [demo] }, response: { headers: { set: { x-rule: demo } } } }] }
  - route: { defaults: { chat: demo } }`),
  );
  const header = async (body: Record<string, unknown>) => {
    const res = await fetch(`${g.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }], ...body }) });
    await res.text();
    return res.headers.get('x-rule');
  };
  t.equal(await header({ model: 'demo' }), 'demo');
  t.equal(await header({ model: 'demo-chat' }), 'demo', 'an alias');
  t.equal(await header({}), 'demo', 'the default model');
  t.equal(await header({ model: 'other' }), null, 'another model');
});

t.test('attempts: a fallback records both, and the record names the one that answered', async (t) => {
  const failing = createServer((_req, res) => res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":{"message":"overloaded","type":"server_error"}}'));
  await new Promise<void>((r) => failing.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => failing.close(() => r())));
  const { g, next } = await gatewayWithRecords(
    t,
    `version: 1
providers:
  down: { adapter: openai, base_url: "http://127.0.0.1:${(failing.address() as AddressInfo).port}/v1", api_key: sk-up }
  demo: { adapter: mock }
models:
  smart: { strategy: fallback, targets: [{ provider: down, model: big }, { provider: demo, model: small }] }
pipeline:
  - auth: { keys: [static], static: [{ name: t, key: "${KEY}", org: acme, scopes: [read, write] }] }
  - route`,
  );
  const res = await chat(g, { model: 'smart', messages: [{ role: 'user', content: 'hi' }] });
  t.equal(res.status, 200);
  await res.text();
  const record = await next();
  t.equal(record.attempts.length, 2);
  t.match(record.attempts[0], { provider: 'down', model: 'big', status: 503 });
  t.match(record.attempts[1], { provider: 'demo', model: 'small', status: 200 });
  t.equal(record.provider, 'demo');
  t.equal(record.modelServed, 'small');
  t.equal(record.modelRequested, 'smart');
  t.equal(record.org, 'acme');
  t.ok(record.usage && record.usage.total_tokens > 0, 'the usage of the attempt that answered');
});

t.test('one record per request: refusals, admin calls, unknown URLs and raw proxy routes', async (t) => {
  const upstream = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(201, { 'content-type': 'text/plain' }).end('made'));
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => upstream.close(() => r())));
  const { g, next } = await gatewayWithRecords(
    t,
    base(
      `  - auth: { keys: [static], static: [{ name: t, key: "${KEY}", org: acme, scopes: [read, write] }] }
  - route`,
      `server: { body_limit: 1kb }
routes:
  - { path: /raw/*, upstream: "http://127.0.0.1:${(upstream.address() as AddressInfo).port}", pipeline: [] }`,
    ),
  );
  const unauth = await fetch(`${g.url}/v1/chat/completions`, { method: 'POST', body: '{"messages":[{"role":"user","content":"hi"}]}', headers: { 'content-type': 'application/json' } });
  await unauth.text();
  t.match(await next(), { status: 401, errorCode: 'missing_api_key', route: '/v1/chat/completions', body: 'failed' });
  const admin = await fetch(`${g.url}/admin/orgs`);
  await admin.text();
  t.match(await next(), { route: '/admin', status: admin.status });
  const unknown = await fetch(`${g.url}/nowhere`);
  await unknown.text();
  t.match(await next(), { route: 'unmatched', status: 404, errorCode: 'unknown_url' });
  const raw = await fetch(`${g.url}/raw/things`, { method: 'POST', body: 'x'.repeat(100) });
  t.equal(raw.status, 201);
  t.equal(await raw.text(), 'made');
  const record = await next();
  t.match(record, { route: '/raw/*', status: 201, bytesIn: 100 });
  t.ok(record.bytesOut > 4, 'bytes out counted');
});

t.test('raw proxy routes run inside the onion: a plugin sees the response, a chunked upload over the limit is 413', async (t) => {
  const upstream = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(202).end('ok'));
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => upstream.close(() => r())));
  const seen: number[] = [];
  (globalThis as { __lifecycleSeen?: number[] }).__lifecycleSeen = seen;
  const g = await startGateway(`version: 1\nproviders: { demo: { adapter: mock } }\nmodels: { demo: { targets: [{ provider: demo }] } }\npipeline: [route]\n`);
  t.teardown(() => g.close());
  await writeFile(
    join(g.dir, 'seen.ts'),
    `export default { name: 'seen', schema: {}, create: () => ({ async handle(ctx, next) { await next(); globalThis.__lifecycleSeen.push(ctx.response?.status ?? 0); } }) };\n`,
  );
  await g.write(`version: 1
server: { body_limit: 1kb }
providers: { demo: { adapter: mock } }
models: { demo: { targets: [{ provider: demo }] } }
pipeline: [route]
routes:
  - { path: /raw/*, upstream: "http://127.0.0.1:${(upstream.address() as AddressInfo).port}", pipeline: [{ use: ./seen.ts }] }
`);
  t.ok((await g.gateway.reload()).ok);
  const small = await fetch(`${g.url}/raw/a`, { method: 'POST', body: 'hello' });
  t.equal(small.status, 202);
  await small.text();
  t.same(seen, [202], 'the route’s plugin saw the upstream’s status on the way back');
  const status = await new Promise<number>((resolve, reject) => {
    const { port } = new URL(g.url);
    const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/raw/big', headers: { 'transfer-encoding': 'chunked' } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    for (let i = 0; i < 8; i++) req.write('y'.repeat(512));
    req.end();
  });
  t.equal(status, 413, 'a chunked upload over body_limit is refused');
});

t.test('plugin order is declared: rate-limit and cache after auth, a load error naming both', async (t) => {
  const g = await startGateway(base(`  - route`));
  t.teardown(() => g.close());
  await g.write(
    base(`  - rate-limit: { limits: [{ per: key, rpm: 10 }] }
  - auth: { keys: [static], static: [{ name: t, key: "${KEY}", org: acme, scopes: [read, write] }] }
  - route`),
  );
  const result = await g.gateway.reload();
  t.equal(result.ok, false);
  if (!result.ok) t.match(result.error.message, /plugin 'rate-limit' must run after 'auth'/);
});

t.test('post-response work and process state: shutdown waits for every settlement; state survives reloads and is closed once', async (t) => {
  const events: string[] = [];
  (globalThis as { __lifecycleEvents?: string[] }).__lifecycleEvents = events;
  const plugin = `export default {
  name: 'tracker',
  schema: {},
  process: {
    create: () => { globalThis.__lifecycleEvents.push('process-create'); return { settled: 0 }; },
    close: (state) => { globalThis.__lifecycleEvents.push('process-close ' + state.settled); },
  },
  create: (_config, _env, state) => ({
    handle(ctx, next) {
      ctx.afterResponse(async (outcome) => {
        await new Promise((r) => setTimeout(r, 50));
        state.settled++;
        globalThis.__lifecycleEvents.push('settled ' + outcome.body + ' ' + (outcome.usage ? 'usage' : 'none'));
      });
      return next();
    },
  }),
};
`;
  const yaml = (n: number) => `version: 1
server: { shutdown_timeout: 300ms }
providers: { demo: { adapter: mock, chunk_delay: 100ms, words_per_chunk: 1 } }
models: { demo: { targets: [{ provider: demo }] } }
pipeline: [{ use: ./tracker.ts }, route]
# version ${n}
`;
  const g = await startGateway(`version: 1\nproviders: { demo: { adapter: mock } }\nmodels: { demo: { targets: [{ provider: demo }] } }\npipeline: [route]\n`);
  await writeFile(join(g.dir, 'tracker.ts'), plugin);
  for (const n of [1, 2, 3]) {
    await g.write(yaml(n));
    t.ok((await g.gateway.reload()).ok, `reload ${n}`);
  }
  const words = Array.from({ length: 100 }, (_, i) => `w${i}`).join(' ');
  const streams = await Promise.all(
    Array.from({ length: 20 }, () => fetch(`${g.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'demo', stream: true, messages: [{ role: 'user', content: words }] }) })),
  );
  for (const s of streams) t.equal(s.status, 200);
  const readers = streams.map((s) => s.text().catch(() => ''));
  await g.close();
  await Promise.all(readers);
  const settled = events.filter((e) => e.startsWith('settled'));
  t.equal(settled.length, 20, 'every settlement ran before close() returned');
  t.ok(settled.every((e) => e.endsWith(' usage')), 'each with a final usage');
  t.same(events.filter((e) => e.startsWith('process-')), ['process-create', 'process-close 20'], 'one process state across three versions, closed once after the settlements');
});

t.test('core/ names no plugin', async (t) => {
  const { readdir, readFile } = await import('node:fs/promises');
  const root = new URL('../../core/', import.meta.url);
  const files = (await readdir(root, { recursive: true })).filter((f) => f.endsWith('.ts'));
  const offenders: string[] = [];
  for (const f of files) if (/from '(\.\.\/)+plugins\//.test(await readFile(new URL(f, root), 'utf8'))) offenders.push(f);
  t.same(offenders, [], 'no core file imports from plugins/');
});
