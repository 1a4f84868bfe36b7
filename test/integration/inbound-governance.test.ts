/**
 * Issue 13, "same governance on every route": a key's allowed models, limits, the cache, transforms,
 * credits and the audit trail apply to `/v1/messages` (Anthropic) and `/v1/responses` (OpenAI
 * Responses) exactly as to `/v1/chat/completions`: switching API bypasses nothing. One gateway, one
 * table of routes; every check runs on every route, and each route's refusals come in its own
 * error shape.
 */
import t from 'tap';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { helloWithUsage, startMockOpenAI, type MockOpenAI } from '../helpers/mock-openai.js';

const ADMIN_KEY = 'inbound-governance-admin-secret';
/** 1 / 2 micro-USD per token: 10 prompt + 20 completion tokens cost 50. */
const USAGE = { prompt_tokens: 10, completion_tokens: 20, total_tokens: 30 };
const COST = 50;

interface Route {
  name: string;
  path: string;
  body(model: string, text: string): Record<string, unknown>;
  headers(key: string | undefined): Record<string, string>;
  /** The text of a successful answer. */
  text(body: Record<string, unknown>): string | undefined;
  /** The error code or type a refusal carries, in the route's own shape (undefined if the shape is wrong). */
  errorOf(body: Record<string, unknown>): { type: string; message: string } | undefined;
}

const openaiError = (body: Record<string, unknown>) => {
  const error = body['error'] as { type?: unknown; message?: unknown; code?: unknown } | undefined;
  return typeof error?.type === 'string' && typeof error.message === 'string' && 'code' in error ? { type: error.type, message: error.message } : undefined;
};

const ROUTES: Route[] = [
  {
    name: 'chat',
    path: '/v1/chat/completions',
    body: (model, text) => ({ model, max_tokens: 20, messages: [{ role: 'user', content: text }] }),
    headers: (key): Record<string, string> => (key ? { authorization: `Bearer ${key}` } : {}),
    text: (b) => (b['choices'] as { message: { content: string } }[] | undefined)?.[0]?.message.content,
    errorOf: openaiError,
  },
  {
    name: 'messages',
    path: '/v1/messages',
    body: (model, text) => ({ model, max_tokens: 20, messages: [{ role: 'user', content: text }] }),
    headers: (key) => ({ 'anthropic-version': '2023-06-01', ...(key ? { 'x-api-key': key } : {}) }),
    text: (b) => (b['content'] as { type: string; text?: string }[] | undefined)?.find((c) => c.type === 'text')?.text,
    errorOf: (b) => {
      const error = b['error'] as { type?: unknown; message?: unknown } | undefined;
      return b['type'] === 'error' && typeof error?.type === 'string' && typeof error.message === 'string' ? { type: error.type, message: error.message } : undefined;
    },
  },
  {
    name: 'responses',
    path: '/v1/responses',
    body: (model, text) => ({ model, max_output_tokens: 20, input: text }),
    headers: (key): Record<string, string> => (key ? { authorization: `Bearer ${key}` } : {}),
    text: (b) =>
      (b['output'] as { type: string; content?: { type: string; text?: string }[] }[] | undefined)
        ?.find((o) => o.type === 'message')
        ?.content?.find((c) => c.type === 'output_text')?.text,
    errorOf: openaiError,
  },
];

const keyOf = (name: string) => `sk-gov-${name}-0123456789abcdef`;
const KEYS = ['main', 'narrow', 'broke', ...ROUTES.map((r) => `rl-${r.name}`)];

let upstream: MockOpenAI;
let gw: TestGateway;

t.before(async () => {
  upstream = await startMockOpenAI();
  upstream.on('/v1/chat/completions', helloWithUsage(USAGE));
  gw = await startGateway(
    `version: 1
stores: { kv: memory, sql: { pglite: memory } }
providers:
  up: { adapter: openai, base_url: "${upstream.baseUrl}", api_key: sk-upstream-secret }
models:
  gpt-4o-mini: { targets: [{ provider: up }] }
  gpt-4o: { targets: [{ provider: up }] }
pipeline:
  - audit: { queue: { flush_interval: 20ms }, requests: { enabled: true }, bodies: { enabled: true } }
  - auth:
      keys: [static]
      static:
        - { name: main, key: "${keyOf('main')}", org: main, scopes: [read, write] }
        - { name: narrow, key: "${keyOf('narrow')}", org: main, scopes: [read, write], allowed_models: [gpt-4o-mini] }
        - { name: broke, key: "${keyOf('broke')}", org: broke, scopes: [read, write] }
${ROUTES.map((r) => `        - { name: rl-${r.name}, key: "${keyOf(`rl-${r.name}`)}", org: main, scopes: [read, write], limits: { rpm: 2 } }`).join('\n')}
  - rate-limit: { limits: [{ per: key, rpm: 1000 }] }
  - billing:
      models: { up/gpt-4o-mini: { input_per_1m: 1, output_per_1m: 2 }, up/gpt-4o: { input_per_1m: 1, output_per_1m: 2 } }
      records: { flush_interval: 20ms }
      credits: { enabled: true }
  - cache: { ttl: 10m, when: always }
  - transform:
      rules:
        - request: { system_prompt: "GOVERNED-SYSTEM-PROMPT" }
          response: { headers: { set: { x-governed: "yes" } } }
  - route: { breaker: { enabled: false } }
`,
    { env: { ...process.env, SWITCHYARD_ADMIN_KEY: ADMIN_KEY } },
  );
  const topUp = await fetch(`${gw.url}/admin/credits/main/top-ups`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ amount_micros: 1_000_000, idempotency_key: 'gov-main' }),
  });
  if (topUp.status >= 300) throw new Error(`top-up failed: ${topUp.status} ${await topUp.text()}`);
});
t.teardown(async () => {
  await gw?.close();
  await upstream?.close();
});

async function send(route: Route, key: string | undefined, model: string, text: string): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }> {
  const res = await fetch(`${gw.url}${route.path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...route.headers(key) },
    body: JSON.stringify(route.body(model, text)),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

async function balance(org: string): Promise<number> {
  const res = await fetch(`${gw.url}/admin/credits/${org}`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
  const body = (await res.json()) as { balance_micros?: unknown };
  return Number(body.balance_micros);
}

for (const route of ROUTES) {
  t.test(`${route.name}: auth, allowed models and limits`, async (t) => {
    const none = await send(route, undefined, 'gpt-4o-mini', 'hi');
    t.equal(none.status, 401, 'no key: 401');
    t.ok(route.errorOf(none.body), `in the ${route.name} error shape: ${JSON.stringify(none.body)}`);

    const forbidden = await send(route, keyOf('narrow'), 'gpt-4o', 'hi');
    t.ok(forbidden.status === 403 || forbidden.status === 404, `a model outside the key's allowed models is refused (${forbidden.status})`);
    t.ok(route.errorOf(forbidden.body), 'in the route error shape');
    const allowed = await send(route, keyOf('narrow'), 'gpt-4o-mini', `allowed ${route.name}`);
    t.equal(allowed.status, 200, 'the allowed model answers');
    t.equal(route.text(allowed.body), 'hello', 'translated back into the route shape');

    const key = keyOf(`rl-${route.name}`);
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await send(route, key, 'gpt-4o-mini', `limited ${route.name} ${i}`)).status);
    t.same(statuses, [200, 200, 429], "the key's rpm 2 holds on this route");
    const limited = await send(route, key, 'gpt-4o-mini', 'again');
    t.ok(route.errorOf(limited.body), 'the 429 in the route error shape');
  });

  t.test(`${route.name}: transform, cache and credits`, async (t) => {
    const before = await balance('main');
    const text = `cache me on ${route.name}`;
    const calls = upstream.requests.length;
    const first = await send(route, keyOf('main'), 'gpt-4o-mini', text);
    t.equal(first.status, 200);
    t.equal(first.headers.get('x-governed'), 'yes', 'response transform applied');
    t.equal(first.headers.get('x-switchyard-cost'), String(COST), 'cost header (micro-units)');
    t.equal(upstream.requests.length, calls + 1);
    const sent = upstream.requests.at(-1)!.body as { messages: { role: string; content: unknown }[] };
    t.equal(sent.messages[0]!.role, 'system', 'request transform: a system prompt was injected');
    t.match(JSON.stringify(sent.messages[0]!.content), /GOVERNED-SYSTEM-PROMPT/);

    const second = await send(route, keyOf('main'), 'gpt-4o-mini', text);
    t.equal(second.status, 200);
    t.equal(second.headers.get('x-switchyard-cache'), 'HIT', 'the second identical request is a cache hit');
    t.equal(upstream.requests.length, calls + 1, 'and reaches no upstream');
    t.equal(route.text(second.body), 'hello', 'the hit is answered in the route shape');

    let after = await balance('main');
    for (let i = 0; i < 100 && after !== before - COST; i++) {
      await new Promise((r) => setTimeout(r, 20));
      after = await balance('main');
    }
    t.equal(after, before - COST, 'the miss was charged exactly its cost; the hit nothing (cache_hit_rate 0)');

    const broke = await send(route, keyOf('broke'), 'gpt-4o-mini', `no credit ${route.name}`);
    t.equal(broke.status, 402, 'no balance: 402');
    t.equal(route.errorOf(broke.body)?.type !== undefined, true, 'in the route error shape');
  });
}

t.test('ip-allowlist refuses every route alike, each in its own shape', async (t) => {
  const denied = await startGateway(`version: 1
providers:
  up: { adapter: openai, base_url: "${upstream.baseUrl}", api_key: sk-upstream-secret }
models:
  gpt-4o-mini: { targets: [{ provider: up }] }
pipeline:
  - ip-allowlist: { allow: [10.0.0.0/8] }
  - route
`);
  t.teardown(() => denied.close());
  const calls = upstream.requests.length;
  for (const route of ROUTES) {
    const res = await fetch(`${denied.url}${route.path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...route.headers(keyOf('main')) }, body: JSON.stringify(route.body('gpt-4o-mini', 'hi')) });
    t.equal(res.status, 403, `${route.name}: 403 from 127.0.0.1`);
    t.ok(route.errorOf((await res.json()) as Record<string, unknown>), `${route.name}: in its own error shape`);
  }
  t.equal(upstream.requests.length, calls, 'nothing reached the upstream');
});

t.test('audit records every route, with the client body redacted', async (t) => {
  const email = 'someone@example.com';
  for (const route of ROUTES) t.equal((await send(route, keyOf('main'), 'gpt-4o-mini', `mail ${email} via ${route.name}`)).status, 200);
  let rows: { event: Record<string, unknown> }[] = [];
  for (let i = 0; i < 100; i++) {
    const verified = await fetch(`${gw.url}/admin/audit/verify`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    t.equal(verified.status, 200);
    const listed = await fetch(`${gw.url}/admin/audit?limit=1000`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    rows = ((await listed.json()) as { data: { event: Record<string, unknown> }[] }).data.filter((r) => JSON.stringify(r.event).includes('mail '));
    if (rows.length >= ROUTES.length) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  for (const route of ROUTES) {
    const row = rows.find((r) => r.event['path'] === route.path);
    t.ok(row, `a request event for ${route.path}`);
    const text = JSON.stringify(row?.event ?? {});
    t.notMatch(text, email, 'the e-mail address is redacted');
    t.match(text, /REDACTED/);
    t.match(row?.event['request_body'], route.body('gpt-4o-mini', 'mail [REDACTED:email] via ' + route.name), "the body captured is the client's own, not the translation");
  }
});
