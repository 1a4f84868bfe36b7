/**
 * Issue 13: a stream on `/v1/messages` or `/v1/responses` that ends early — the client leaves, or the
 * upstream breaks off mid-way — is settled like a chat stream: the credit reservation is released,
 * one usage row records the tokens generated so far (estimated, since no final usage came), and the
 * balance is the top-up less exactly that row's cost. Credits on PGlite, a loopback upstream.
 */
import t, { type Test } from 'tap';
import type { ServerResponse } from 'node:http';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { chunk, sse, startMockOpenAI, type MockOpenAI } from '../helpers/mock-openai.js';
import { ADMIN_KEY, books, eventually, keyOf, topUp } from '../plugins/billing-credits-fixture.js';
import type { Gateway } from '../../core/gateway.js';

const ORGS = ['msg-abort', 'resp-abort', 'msg-cut', 'resp-cut', 'msg-ok', 'resp-ok'] as const;
const TOP_UP = 1_000_000;
/**
 * The text each stream sends: `ok` then finishes with its usage; `trickle` waits for the client to
 * leave; `cut` drops the connection.
 */
const PARTS = ['The quick brown fox ', 'jumps over the lazy dog, ', 'again and again and again. '];

/** What the `ok` stream reports at its end. */
const USAGE = { prompt_tokens: 12, completion_tokens: 19, total_tokens: 31 };

let upstream: MockOpenAI;
const held = new Set<ServerResponse>();
let gw: TestGateway;

t.before(async () => {
  upstream = await startMockOpenAI();
  upstream.on('/v1/chat/completions', (_req, res, body) => {
    const model = String(body?.['model']);
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    sse(res, chunk(model, { role: 'assistant', content: '' }));
    for (const part of PARTS) sse(res, chunk(model, { content: part }));
    if (model === 'ok') {
      sse(res, chunk(model, {}, 'stop'));
      sse(res, { ...chunk(model, {}), choices: [], usage: USAGE });
      return void res.end('data: [DONE]\n\n');
    }
    if (model === 'cut') return void setTimeout(() => res.socket?.destroy(), 20);
    held.add(res);
    res.on('close', () => held.delete(res));
  });
  gw = await startGateway(
    `version: 1
stores: { kv: memory, sql: { pglite: memory } }
providers:
  up: { adapter: openai, base_url: "${upstream.baseUrl}", api_key: sk-upstream }
models:
  ok: { targets: [{ provider: up }] }
  trickle: { targets: [{ provider: up }] }
  cut: { targets: [{ provider: up }] }
pipeline:
  - auth:
      keys: [static]
      static:
${ORGS.map((org) => `        - { name: key-${org}, key: "${keyOf(org)}", org: ${org}, scopes: [read, write] }`).join('\n')}
  - billing:
      models: { up/ok: { input_per_1m: 1, output_per_1m: 2 }, up/trickle: { input_per_1m: 1, output_per_1m: 2 }, up/cut: { input_per_1m: 1, output_per_1m: 2 } }
      records: { flush_interval: 20ms }
      credits: { enabled: true }
  - route: { breaker: { enabled: false } }
`,
    { level: 'fatal', env: { ...process.env, SWITCHYARD_ADMIN_KEY: ADMIN_KEY } },
  );
  for (const org of ORGS) if ((await topUp(gw.url, org, TOP_UP)).status !== 201) throw new Error(`top-up for ${org} failed`);
});
t.teardown(async () => {
  for (const res of held) res.destroy();
  await gw.close();
  await upstream.close();
});

/** Resolves once every request the gateway is running has ended, post-response work (settlements) included. */
async function idle(gateway: Gateway): Promise<boolean> {
  const running = (gateway as unknown as { inFlight: Set<unknown> }).inFlight;
  for (let i = 0; i < 1000 && running.size > 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  return running.size === 0;
}
const usageQueue = (gateway: Gateway) => ((gateway as unknown as { services: { stateNamed(name: string): unknown } }).services.stateNamed('billing') as { queue: { flush(): Promise<void> } }).queue;

type Api = 'messages' | 'responses';

function start(api: Api, org: string, model: string, signal?: AbortSignal): Promise<Response> {
  const headers = { 'content-type': 'application/json', ...(api === 'messages' ? { 'x-api-key': keyOf(org), 'anthropic-version': '2023-06-01' } : { authorization: `Bearer ${keyOf(org)}` }) };
  const body =
    api === 'messages'
      ? { model, max_tokens: 200, stream: true, messages: [{ role: 'user', content: 'Tell me about foxes.' }] }
      : { model, max_output_tokens: 200, stream: true, input: 'Tell me about foxes.' };
  return fetch(`${gw.url}/v1/${api}`, { method: 'POST', headers, body: JSON.stringify(body), ...(signal ? { signal } : {}) });
}

/** Reads the stream until it has carried all of PARTS' text (translated into the route's events). */
async function readUntilAllText(api: Api, res: Response): Promise<string> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  const delta = api === 'messages' ? /"text_delta","text":"([^"]*)"/g : /"response\.output_text\.delta"[^}]*"delta":"([^"]*)"/g;
  let seen = '';
  while (seen !== PARTS.join('')) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`stream ended early: ${text}`);
    text += decoder.decode(value, { stream: true });
    seen = [...text.matchAll(delta)].map((m) => m[1]).join('');
  }
  return text;
}

interface UsageRow {
  status: number;
  prompt_tokens: number;
  completion_tokens: number;
  estimated: boolean;
  cost_micros: string;
  error_code: string | null;
}

/** The books of `org` once settled: nothing reserved, one usage row (estimated unless said), balance = top-up − its cost. */
async function expectSettled(t: Test, org: string, reported?: typeof USAGE): Promise<UsageRow> {
  t.ok(await idle(gw.gateway), 'the request ended on the gateway, settlement included');
  await usageQueue(gw.gateway).flush();
  const sql = await gw.gateway.stores.sql();
  const b = await eventually(
    () => books(sql, org),
    (v) => v.usageRows > 0 && v.reserved === 0n,
  );
  t.equal(b.reserved, 0n, 'nothing left reserved');
  t.equal(b.reservations, 0, 'the reservation is released');
  t.equal(b.usageRows, 1, 'one usage row');
  const { rows } = await sql.query<UsageRow>('SELECT status, prompt_tokens, completion_tokens, estimated, cost_micros::text AS cost_micros, error_code FROM billing_usage WHERE org_id = $1', [org]);
  const row = rows[0]!;
  if (reported) {
    t.equal(row.estimated, false, 'the usage the upstream reported');
    t.same([row.prompt_tokens, row.completion_tokens], [reported.prompt_tokens, reported.completion_tokens]);
  } else {
    t.equal(row.estimated, true, 'tokens estimated (no final usage arrived)');
    t.ok(row.prompt_tokens > 0, `prompt tokens counted (${row.prompt_tokens})`);
    // PARTS is under 30 o200k tokens: the estimate counts what was generated, not the 200 reserved.
    t.ok(row.completion_tokens >= 10 && row.completion_tokens < 30, `the tokens generated so far (${row.completion_tokens})`);
  }
  const cost = BigInt(row.prompt_tokens * 1 + row.completion_tokens * 2);
  t.equal(BigInt(row.cost_micros), cost, 'cost = tokens × price');
  t.equal(b.balance, BigInt(TOP_UP) - cost, 'balance = top-up − that cost');
  t.equal(b.ledgerSum, b.balance, 'the ledger sums to the balance');
  return row;
}

for (const api of ['messages', 'responses'] as const) {
  t.test(`${api}: a completed stream gets its usage row at the reported usage`, async (t) => {
    const org = api === 'messages' ? 'msg-ok' : 'resp-ok';
    const res = await start(api, org, 'ok');
    t.equal(res.status, 200);
    t.match(await res.text(), api === 'messages' ? /event: message_stop\n/ : /event: response\.completed\n/);
    const row = await expectSettled(t, org, USAGE);
    t.equal(row.status, 200);
    t.equal(row.error_code, null);
  });

  t.test(`${api}: a client that leaves mid-stream is charged for what was generated`, async (t) => {
    const controller = new AbortController();
    const res = await start(api, api === 'messages' ? 'msg-abort' : 'resp-abort', 'trickle', controller.signal);
    t.equal(res.status, 200);
    await readUntilAllText(api, res);
    t.equal(held.size, 1, 'the upstream is still streaming');
    controller.abort();
    const row = await expectSettled(t, api === 'messages' ? 'msg-abort' : 'resp-abort');
    t.equal(row.status, 499, 'recorded as a client that left');
    t.equal(held.size, 0, 'the upstream call was closed too');
  });

  t.test(`${api}: an upstream that breaks off mid-stream is charged for what was generated`, async (t) => {
    const org = api === 'messages' ? 'msg-cut' : 'resp-cut';
    const res = await start(api, org, 'cut');
    t.equal(res.status, 200);
    const text = await res.text();
    t.match(text, api === 'messages' ? /event: error\n/ : /event: response\.failed\n/, 'the stream ended with the dialect error event');
    const row = await expectSettled(t, org);
    t.ok(row.error_code, `the failure recorded (${row.error_code})`);
  });
}
