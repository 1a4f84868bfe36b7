/**
 * Streamed = non-streamed, for every adapter (issue 11): through a real gateway with credits on
 * PGlite, the same priced request costs the same non-streamed, streamed with
 * `stream_options.include_usage` and streamed without it (the client not asking does not change
 * the bill), and that cost is the provider-reported usage × the price; a stream the client aborts
 * after N chunks is billed, marked estimated, at least the tokens of the text those chunks held, and
 * settles the reservation to exactly that cost. Each provider is played by its loopback wire mock
 * (test/adapters/*-wire.ts, which cite the provider's API reference); `mock` is the offline adapter.
 * `/v1/messages` (Anthropic Messages inbound) costs what chat does, for the `openai` and `anthropic`
 * adapters. Anthropic's 1-hour cache writes cost the catalog's 1-hour rate, 2 × input.
 */
import t, { type Test } from 'tap';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import type { SqlExecutor } from '../../core/stores/sql.js';
import type { ProviderMock, RecordedCall, Scenario, Usage } from '../adapters/conformance.js';
import { startServer, startWireMock, writeEvents, writeJson, type Render } from '../adapters/wire-mock.js';
import { renderOpenAI } from '../adapters/openai-wire.js';
import { fixture as anthropicFixture, renderAnthropic, streamFixture as anthropicStream } from '../adapters/anthropic-wire.js';
import { renderGemini } from '../adapters/gemini-wire.js';
import { renderCohere } from '../adapters/cohere-wire.js';
import { gigachatRender, startAuthServer } from '../adapters/gigachat-wire.js';
import { renderYandex } from '../adapters/yandex-wire.js';
import { estimateTokens } from '../../plugins/route/providers/mock.js';
import { ADMIN_KEY, books, eventually, keyOf, topUp } from './billing-credits-fixture.js';

/** $3 / $15 per 1M tokens: 3 and 15 micro-USD a token, so every cost is exact. */
const INPUT_PER_TOKEN = 3;
const OUTPUT_PER_TOKEN = 15;
const costOf = (prompt: number, completion: number): number => prompt * INPUT_PER_TOKEN + completion * OUTPUT_PER_TOKEN;
const TOP_UP = 10_000_000;

const PARTS = ['Alpha ', 'Bravo ', 'Charlie ', 'Delta ', 'Echo'];
const USAGE: Usage = { input: 23, output: 9 };
/** The stream the client aborts is held open by the mock after the event that carries this part. */
const CUT_AFTER = 'Charlie';
/** Content chunks the client reads before it aborts. */
const READ_BEFORE_ABORT = 3;

/**
 * A render whose `stream` answers can be cut: with `cut` set, the provider's whole stream is
 * rendered aside, and only what precedes the end of the event (SSE) or line (NDJSON) holding
 * `cut` is sent; then the connection is held until the client goes away.
 */
function cuttable(render: Render): { render: Render; cut: { after: string | undefined } } {
  const cut: { after: string | undefined } = { after: undefined };
  const wrapped: Render = (s: Scenario, call: RecordedCall, res: ServerResponse, req: IncomingMessage) => {
    if (s.kind !== 'stream' || cut.after === undefined) return render(s, call, res, req);
    let status = 200;
    let headers: Record<string, string> = {};
    let body = '';
    const recorder = {
      writeHead(code: number, h: Record<string, string>) {
        status = code;
        headers = h;
        return recorder;
      },
      write(chunk: string | Buffer) {
        body += String(chunk);
        return true;
      },
      end(chunk?: string | Buffer) {
        if (chunk) body += String(chunk);
        return recorder;
      },
    };
    void render(s, call, recorder as unknown as ServerResponse, req);
    const at = body.indexOf(cut.after);
    const sse = String(headers['content-type'] ?? '').startsWith('text/event-stream');
    const end = sse ? /\r?\n\r?\n/.exec(body.slice(at)) : /\n/.exec(body.slice(at));
    if (at < 0 || !end) throw new Error(`the rendered stream has no complete event holding ${cut.after}`);
    res.writeHead(status, headers).write(body.slice(0, at + end.index + end[0].length));
  };
  return { render: wrapped, cut };
}

interface Subject {
  name: string;
  /** The `providers:` entry `p` (YAML flow map) for a mock at `baseUrl`. */
  provider: string;
  /** The upstream model id the price is set for. */
  model: string;
  /** The provider mock, or none for the offline adapter. */
  mock?: ProviderMock;
  cut?: { after: string | undefined };
  close(): Promise<void>;
  /** Also compare `/v1/messages` with chat. */
  messages?: boolean;
}

async function wireSubject(name: string, render: Render, basePath: string, provider: (baseUrl: string) => string, model: string, extra: Partial<Subject> = {}): Promise<Subject> {
  const { render: wrapped, cut } = cuttable(render);
  const mock = await startWireMock(wrapped, basePath);
  return { name, provider: provider(mock.baseUrl), model, mock, cut, close: mock.close, ...extra };
}

const subjects: Record<string, () => Promise<Subject>> = {
  'openai-compatible': () => wireSubject('openai-compatible', renderOpenAI, '/v1', (u) => `{ adapter: openai, base_url: "${u}", api_key: sk-provider }`, 'gpt-4o-mini', { messages: true }),
  anthropic: () => wireSubject('anthropic', renderAnthropic, '', (u) => `{ adapter: anthropic, base_url: "${u}", api_key: sk-ant-provider }`, 'claude-sonnet-5-5', { messages: true }),
  gemini: () => wireSubject('gemini', renderGemini, '/v1beta', (u) => `{ adapter: gemini, base_url: "${u}", api_key: gemini-provider-key }`, 'gemini-3.8-flash'),
  cohere: () => wireSubject('cohere', renderCohere, '', (u) => `{ adapter: cohere, base_url: "${u}", api_key: co-provider-key }`, 'command-a-03-2025'),
  async gigachat() {
    const auth = await startAuthServer();
    const key = Buffer.from('0199e2aa-client-id:c1ient-secret-value').toString('base64');
    const subject = await wireSubject('gigachat', gigachatRender(auth), '/api/v1', (u) => `{ adapter: gigachat, base_url: "${u}", auth_url: "${auth.url}", credentials: "${key}", scope: GIGACHAT_API_CORP }`, 'GigaChat-2-Max');
    const close = subject.close;
    return { ...subject, close: async () => (await close(), await auth.close()) };
  },
  yandex: () => wireSubject('yandex', renderYandex, '', (u) => `{ adapter: yandex, base_url: "${u}", folder_id: b1gtestfolder, api_key: AQVNprovider-secret-key }`, 'yandexgpt-lite'),
  mock: async () => ({ name: 'mock', provider: '{ adapter: mock, chunk_delay: 15ms }', model: 'mock-model', close: async () => undefined }),
};

/** With `catalogPrice`, the model costs its catalog price instead of the test's override. */
function gatewayConfig(subject: Subject, org: string, catalogPrice = false): string {
  return `version: 1
stores: { kv: memory, sql: { pglite: memory } }
providers:
  p: ${subject.provider}
models:
  test-model: { targets: [{ provider: p, model: ${subject.model} }] }
pipeline:
  - auth:
      keys: [static]
      static:
        - { name: key-${org}, key: "${keyOf(org)}", org: ${org}, scopes: [read, write] }
  - billing:${catalogPrice ? '' : `
      models:
        p/${subject.model}: { input_per_1m: ${INPUT_PER_TOKEN}, output_per_1m: ${OUTPUT_PER_TOKEN} }`}
      records: { flush_interval: 20ms }
      credits: { enabled: true }
  - route: { breaker: { enabled: false } }
`;
}

interface Row {
  prompt_tokens: number;
  completion_tokens: number;
  cost_micros: number;
  estimated: boolean;
  status: number;
}

/** The usage row of request `id`, once written. */
async function rowOf(sql: SqlExecutor, id: string): Promise<Row> {
  const read = async () =>
    (
      await sql.query<{ prompt_tokens: number; completion_tokens: number; cost_micros: string; estimated: boolean; status: number }>(
        'SELECT prompt_tokens, completion_tokens, cost_micros::text AS cost_micros, estimated, status FROM billing_usage WHERE request_id = $1',
        [id],
      )
    ).rows;
  const rows = await eventually(read, (r) => r.length > 0, 800);
  if (rows.length !== 1) throw new Error(`request ${id}: ${rows.length} usage rows`);
  const r = rows[0]!;
  return { prompt_tokens: Number(r.prompt_tokens), completion_tokens: Number(r.completion_tokens), cost_micros: Number(r.cost_micros), estimated: r.estimated, status: Number(r.status) };
}

/** The books once nothing is reserved any more (every request so far settled). */
const settledBooks = (sql: SqlExecutor, org: string) => eventually(() => books(sql, org), (b) => b.reservations === 0 && b.reserved === 0n, 800);

/** The `data:` payloads of an SSE body, parsed (`[DONE]` left out). */
function sseData(text: string): Record<string, unknown>[] {
  return text
    .split(/\n\n/)
    .map((event) => event.split('\n').find((line) => line.startsWith('data: '))?.slice(6))
    .filter((data): data is string => data !== undefined && data !== '[DONE]')
    .map((data) => JSON.parse(data) as Record<string, unknown>);
}

const contentOf = (chunk: Record<string, unknown>): string => ((chunk['choices'] as { delta?: { content?: string } }[] | undefined)?.[0]?.delta?.content ?? '');

async function runSubject(t: Test, make: () => Promise<Subject>): Promise<void> {
  const subject = await make();
  const org = `org-${subject.name}`;
  const gw: TestGateway = await startGateway(gatewayConfig(subject, org), { level: 'warn', env: { ...process.env, SWITCHYARD_ADMIN_KEY: ADMIN_KEY } });
  t.teardown(async () => {
    await gw.close();
    await subject.close();
  });
  const sql = await gw.gateway.stores.sql();
  t.equal((await topUp(gw.url, org, TOP_UP)).status, 201, 'topped up');
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${keyOf(org)}` };
  const post = (path: string, body: Record<string, unknown>, init: RequestInit = {}) => fetch(`${gw.url}${path}`, { method: 'POST', headers, body: JSON.stringify(body), ...init });
  const prompt = [{ role: 'user', content: PARTS.join('') }];
  const chat = (extra: Record<string, unknown> = {}, init: RequestInit = {}) => post('/v1/chat/completions', { model: 'test-model', max_tokens: 50, messages: prompt, ...extra }, init);

  // What the provider reports: the scenario's usage for the wire mocks; the mock's own estimate (4 characters a token).
  const reported = subject.mock ? { prompt: USAGE.input, completion: USAGE.output } : { prompt: estimateTokens(PARTS.join('')), completion: estimateTokens(PARTS.join('')) };
  const expectedCost = costOf(reported.prompt, reported.completion);

  subject.mock?.respondWith({ kind: 'text', text: PARTS.join(''), usage: USAGE });
  const plain = await chat();
  t.equal(plain.status, 200, 'non-streamed answer');
  const plainBody = (await plain.json()) as { usage: { prompt_tokens: number; completion_tokens: number } };
  t.match(plainBody.usage, { prompt_tokens: reported.prompt, completion_tokens: reported.completion }, 'the provider usage reaches the client');
  const plainRow = await rowOf(sql, plain.headers.get('x-request-id')!);
  t.same(plainRow, { prompt_tokens: reported.prompt, completion_tokens: reported.completion, cost_micros: expectedCost, estimated: false, status: 200 }, 'non-streamed row: reported usage × price');
  t.equal(plain.headers.get('x-switchyard-cost'), String(plainRow.cost_micros), 'the cost header is the row');

  for (const includeUsage of [true, false]) {
    subject.mock?.respondWith({ kind: 'stream', parts: PARTS, usage: USAGE });
    const res = await chat({ stream: true, ...(includeUsage ? { stream_options: { include_usage: true } } : {}) });
    t.equal(res.status, 200);
    t.notOk(res.headers.get('x-switchyard-cost'), 'no cost header on a stream');
    const chunks = sseData(await res.text());
    t.equal(chunks.map(contentOf).join(''), PARTS.join(''), 'streamed text');
    const usageChunks = chunks.filter((c) => c['usage']);
    if (includeUsage) t.match(usageChunks.at(-1)?.['usage'], { prompt_tokens: reported.prompt, completion_tokens: reported.completion }, 'usage chunk');
    else t.equal(usageChunks.length, 0, 'no usage chunk for a client that did not ask');
    const row = await rowOf(sql, res.headers.get('x-request-id')!);
    t.same(row, plainRow, `streamed ${includeUsage ? 'with' : 'without'} include_usage: the same row as non-streamed`);
  }

  if (subject.messages) {
    const messages = (extra: Record<string, unknown> = {}) => post('/v1/messages', { model: 'test-model', max_tokens: 50, messages: prompt, ...extra }, { headers: { ...headers, 'anthropic-version': '2023-06-01' } });
    subject.mock?.respondWith({ kind: 'text', text: PARTS.join(''), usage: USAGE });
    const res = await messages();
    t.equal(res.status, 200, '/v1/messages answered');
    const body = (await res.json()) as { type: string; usage: { input_tokens: number; output_tokens: number } };
    t.equal(body.type, 'message');
    t.match(body.usage, { input_tokens: reported.prompt, output_tokens: reported.completion });
    const row = await rowOf(sql, res.headers.get('x-request-id')!);
    t.same(row, plainRow, '/v1/messages: the same row as chat');
    t.equal(res.headers.get('x-switchyard-cost'), String(plainRow.cost_micros), '/v1/messages cost header');
    subject.mock?.respondWith({ kind: 'stream', parts: PARTS, usage: USAGE });
    const streamed = await messages({ stream: true });
    t.equal(streamed.status, 200);
    const events = sseData(await streamed.text());
    t.equal(events.at(-1)?.['type'], 'message_stop', 'a whole Messages stream');
    t.same(await rowOf(sql, streamed.headers.get('x-request-id')!), plainRow, '/v1/messages streamed: the same row as chat');
  }

  // An aborted stream: the client reads READ_BEFORE_ABORT content chunks, then leaves.
  const before = await settledBooks(sql, org);
  t.equal(before.balance, BigInt(TOP_UP) - BigInt(before.usageCost), 'every request so far charged exactly its row');
  if (subject.cut) subject.cut.after = CUT_AFTER;
  subject.mock?.respondWith({ kind: 'stream', parts: PARTS, usage: USAGE });
  const controller = new AbortController();
  const res = await chat({ stream: true, messages: subject.mock ? prompt : [{ role: 'user', content: `${PARTS.join('')} ${PARTS.join('')} ${PARTS.join('')}` }] }, { signal: controller.signal });
  const requestId = res.headers.get('x-request-id')!;
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffered = '';
  let read: string[] = [];
  while (read.length < READ_BEFORE_ABORT) {
    const { value, done } = await reader.read();
    if (done) break;
    buffered += decoder.decode(value, { stream: true });
    const complete = buffered.slice(0, buffered.lastIndexOf('\n\n') + 2);
    read = sseData(complete).map(contentOf).filter((c) => c !== '');
  }
  controller.abort();
  await reader.cancel().catch(() => undefined);
  t.ok(read.length >= READ_BEFORE_ABORT, `the client read ${read.length} content chunks`);
  const row = await rowOf(sql, requestId);
  const readTokens = countTokens(read.join(''));
  t.equal(row.status, 499, 'recorded as the client leaving');
  t.equal(row.estimated, true, 'the aborted stream is billed as estimated');
  t.ok(row.completion_tokens >= readTokens, `completion tokens ${row.completion_tokens} ≥ ${readTokens}, the tokens the client read`);
  t.ok(row.cost_micros >= costOf(row.prompt_tokens, readTokens), 'cost at least the text read');
  t.equal(row.cost_micros, costOf(row.prompt_tokens, row.completion_tokens), 'cost is the row usage × price');
  const after = await settledBooks(sql, org);
  t.equal(before.balance - after.balance, BigInt(row.cost_micros), 'the balance went down by exactly the row cost');
  t.equal(after.reservations, 0, 'nothing left reserved');
  t.equal(after.reserved, 0n);
  if (subject.cut) subject.cut.after = undefined;
}

for (const [name, make] of Object.entries(subjects)) {
  t.test(`${name}: streamed = non-streamed cost, aborted stream billed for what arrived`, (t) => runSubject(t, make));
}

t.test('anthropic: 1-hour cache writes cost 2 × input at the catalog price, streamed and not, chat and /v1/messages', async (t) => {
  // Anthropic answers with the documented 1-hour-TTL fixtures: 50 input, 2000 cache reads, 500 5-minute and 1000 1-hour writes, 120 out.
  const upstream = await startServer(async (req, res) => {
    let raw = '';
    for await (const c of req) raw += String(c);
    const body = JSON.parse(raw) as { stream?: boolean };
    if (body.stream) writeEvents(res, anthropicStream('stream-cache-1h'));
    else writeJson(res, 200, anthropicFixture('message-cache-1h'));
  });
  const org = 'org-cache-1h';
  const config = gatewayConfig({ name: 'cache-1h', provider: `{ adapter: anthropic, base_url: "${upstream.url}", api_key: sk-ant-provider }`, model: 'claude-sonnet-5-5', close: upstream.close }, org, true);
  const gw = await startGateway(config, { level: 'warn', env: { ...process.env, SWITCHYARD_ADMIN_KEY: ADMIN_KEY } });
  t.teardown(async () => {
    await gw.close();
    await upstream.close();
  });
  const sql = await gw.gateway.stores.sql();
  t.equal((await topUp(gw.url, org, TOP_UP)).status, 201, 'topped up');
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${keyOf(org)}`, 'anthropic-version': '2023-06-01' };
  const post = (path: string, body: Record<string, unknown>) => fetch(`${gw.url}${path}`, { method: 'POST', headers, body: JSON.stringify({ model: 'test-model', max_tokens: 200, messages: [{ role: 'user', content: 'Summarize the contract.' }], ...body }) });

  // Catalog, micro-USD per token: $2 input, $0.10 cache read, $2.50 5-minute write, $4 1-hour write (2 × input), $10 output.
  const expected = 50 * 2 + 2000 / 10 + 500 * 2.5 + 1000 * (2 * 2) + 120 * 10;
  const plain = await post('/v1/chat/completions', {});
  t.equal(plain.status, 200);
  const body = (await plain.json()) as { usage: Record<string, unknown> };
  t.match(body.usage, { prompt_tokens: 3550, prompt_tokens_details: { cache_write_tokens: 1500, cache_creation_token_details: { ephemeral_5m_input_tokens: 500, ephemeral_1h_input_tokens: 1000 } } });
  const row = await rowOf(sql, plain.headers.get('x-request-id')!);
  t.same(row, { prompt_tokens: 3550, completion_tokens: 120, cost_micros: expected, estimated: false, status: 200 }, '1000 1-hour writes at $4, not the 5-minute $2.50');
  t.equal(plain.headers.get('x-switchyard-cost'), String(expected));

  const streamed = await post('/v1/chat/completions', { stream: true, stream_options: { include_usage: true } });
  await streamed.text();
  t.same(await rowOf(sql, streamed.headers.get('x-request-id')!), row, 'streamed: the same cost');

  const messages = await post('/v1/messages', {});
  t.match(((await messages.json()) as { usage: unknown }).usage, { cache_creation_input_tokens: 1500, cache_creation: { ephemeral_5m_input_tokens: 500, ephemeral_1h_input_tokens: 1000 } }, '/v1/messages keeps the split');
  t.same(await rowOf(sql, messages.headers.get('x-request-id')!), row, '/v1/messages: the same cost');
  const messagesStreamed = await post('/v1/messages', { stream: true });
  await messagesStreamed.text();
  t.same(await rowOf(sql, messagesStreamed.headers.get('x-request-id')!), row, '/v1/messages streamed: the same cost');

  const after = await settledBooks(sql, org);
  t.equal(after.balance, BigInt(TOP_UP - 4 * expected), 'the balance went down by exactly four such costs');
});
