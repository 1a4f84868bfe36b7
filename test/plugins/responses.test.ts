/**
 * The `responses` plugin through a real gateway, with the official `openai` SDK: stored responses,
 * `previous_response_id` chains (what the provider is sent), retrieve / input items / delete,
 * organizations never seeing each other's responses, `store: false`, `store_default`, retention and
 * expiry, and the refusals without the plugin. Upstream: the recording mock OpenAI server
 * (test/helpers/mock-openai.ts; wire formats of https://platform.openai.com/docs/api-reference/chat and, for the
 * native pass-through, https://platform.openai.com/docs/api-reference/responses/object).
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import OpenAI, { APIError } from 'openai';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { startMockOpenAI, type MockOpenAI } from '../helpers/mock-openai.js';
import type { ResponsesProcess } from '../../plugins/responses/index.js';

const spec = JSON.parse(readFileSync(new URL('../fixtures/openai/responses-schemas.json', import.meta.url), 'utf8')) as { $defs: Record<string, object> };
const specAjv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });
specAjv.addSchema({ $id: 'openai', $defs: spec.$defs });
const validResponse = specAjv.getSchema('openai#/$defs/Response')!;

const KEY_ACME = 'sk-responses-acme-0123456789abcdef';
const KEY_GLOBEX = 'sk-responses-globex-0123456789abcdef';

let upstream: MockOpenAI;
let gw: TestGateway;
let acme: OpenAI;
let globex: OpenAI;

t.before(async () => {
  upstream = await startMockOpenAI();
  gw = await startGateway(`version: 1
stores: { kv: memory, sql: { pglite: memory } }
providers:
  up: { adapter: openai, base_url: "${upstream.baseUrl}", api_key: sk-upstream-secret }
  native: { adapter: openai, base_url: "${upstream.baseUrl}", api_key: sk-upstream-secret, responses_api: true }
models:
  gpt-4o-mini: { targets: [{ provider: up }] }
  gpt-4o: { targets: [{ provider: native }] }
pipeline:
  - auth:
      keys: [static]
      static:
        - { name: acme, key: "${KEY_ACME}", org: acme, scopes: [read, write] }
        - { name: globex, key: "${KEY_GLOBEX}", org: globex, scopes: [read, write] }
  - responses: {}
  - route: { breaker: { enabled: false } }
`);
  acme = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: KEY_ACME, maxRetries: 0 });
  globex = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: KEY_GLOBEX, maxRetries: 0 });
});
t.teardown(async () => {
  await gw?.close();
  await upstream?.close();
});
t.beforeEach(() => upstream.reset());

/** The error a call rejects with (fails the test if it resolves). */
async function apiError(call: Promise<unknown>): Promise<APIError> {
  try {
    await call;
  } catch (err) {
    if (err instanceof APIError) return err;
    throw err;
  }
  throw new Error('expected the call to fail');
}

/** The messages of the last chat request the upstream received. */
function lastUpstreamMessages(): unknown[] {
  return upstream.requests.at(-1)!.body!['messages'] as unknown[];
}

t.test('a chain sends the earlier turns upstream, without the earlier instructions', async (t) => {
  const first = await acme.responses.create({ model: 'gpt-4o-mini', instructions: 'Be brief.', input: 'My name is Ada.' });
  t.equal(first.output_text, 'upstream says: My name is Ada.');
  const second = await acme.responses.create({ model: 'gpt-4o-mini', instructions: 'Be kind.', previous_response_id: first.id, input: 'What is my name?' });
  t.equal(second.previous_response_id, first.id);
  t.same(lastUpstreamMessages(), [
    { role: 'system', content: 'Be kind.' },
    { role: 'user', content: 'My name is Ada.' },
    { role: 'assistant', content: 'upstream says: My name is Ada.' },
    { role: 'user', content: 'What is my name?' },
  ]);
  const third = await acme.responses.create({ model: 'gpt-4o-mini', previous_response_id: second.id, input: [{ role: 'user', content: [{ type: 'input_text', text: 'And again?' }] }] });
  t.same(
    lastUpstreamMessages(),
    [
      { role: 'user', content: 'My name is Ada.' },
      { role: 'assistant', content: 'upstream says: My name is Ada.' },
      { role: 'user', content: 'What is my name?' },
      { role: 'assistant', content: 'upstream says: What is my name?' },
      { role: 'user', content: [{ type: 'text', text: 'And again?' }] },
    ],
    'the whole chain, two turns back',
  );
  t.equal(third.status, 'completed');
});

t.test('retrieve gives the stored Response, valid against the OpenAI spec', async (t) => {
  const created = await acme.responses.create({ model: 'gpt-4o-mini', input: 'keep me', metadata: { ticket: 'T-1' } });
  const got = await acme.responses.retrieve(created.id);
  t.equal(got.id, created.id);
  t.equal(got.output_text, 'upstream says: keep me');
  t.same(got.metadata, { ticket: 'T-1' });
  t.same(got.usage, created.usage, 'the same usage as the client got');
  const raw = await fetch(`${gw.url}/v1/responses/${created.id}`, { headers: { authorization: `Bearer ${KEY_ACME}` } });
  const body = (await raw.json()) as unknown;
  t.ok(validResponse(body), 'a spec-valid Response', { errors: validResponse.errors?.slice(0, 5) });
});

t.test('a streamed answer is stored once it completed, and can be continued', async (t) => {
  const stream = await acme.responses.create({ model: 'gpt-4o-mini', input: 'stream me', stream: true });
  let completed: OpenAI.Responses.Response | undefined;
  for await (const event of stream) if (event.type === 'response.completed') completed = event.response;
  t.ok(completed, 'the stream completed');
  const got = await acme.responses.retrieve(completed!.id);
  t.equal(got.status, 'completed');
  t.equal(got.output_text, 'upstream says: stream me ');
  t.equal(got.usage?.total_tokens, 21, 'usage from the stream');
  await acme.responses.create({ model: 'gpt-4o-mini', previous_response_id: completed!.id, input: 'next' });
  t.same(lastUpstreamMessages().slice(0, 2), [
    { role: 'user', content: 'stream me' },
    { role: 'assistant', content: 'upstream says: stream me ' },
  ]);
});

t.test('a function call and its output continue across the chain', async (t) => {
  upstream.on('/v1/chat/completions', (_req, res, body) => {
    const messages = body!['messages'] as { role: string }[];
    const message =
      messages.at(-1)!.role === 'tool'
        ? { role: 'assistant', content: 'It is sunny in Paris.', refusal: null }
        : { role: 'assistant', content: null, refusal: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] };
    res.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({
        id: 'chatcmpl-tools',
        object: 'chat.completion',
        created: 1_700_000_000,
        model: 'gpt-4o-mini',
        choices: [{ index: 0, message, logprobs: null, finish_reason: message.content ? 'stop' : 'tool_calls' }],
        usage: { prompt_tokens: 20, completion_tokens: 5, total_tokens: 25 },
      }),
    );
  });
  const tools: OpenAI.Responses.Tool[] = [{ type: 'function', name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } }, strict: false }];
  const first = await acme.responses.create({ model: 'gpt-4o-mini', input: 'Weather in Paris?', tools });
  const call = first.output.find((o) => o.type === 'function_call');
  t.equal(call?.type === 'function_call' && call.call_id, 'call_1');
  const second = await acme.responses.create({ model: 'gpt-4o-mini', previous_response_id: first.id, tools, input: [{ type: 'function_call_output', call_id: 'call_1', output: 'sunny' }] });
  t.equal(second.output_text, 'It is sunny in Paris.');
  t.same(lastUpstreamMessages(), [
    { role: 'user', content: 'Weather in Paris?' },
    { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
    { role: 'tool', tool_call_id: 'call_1', content: 'sunny' },
  ]);
});

t.test('a native pass-through is stored as the client got it, and its chain is translated', async (t) => {
  upstream.on('/v1/responses', (_req, res, body) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({
        id: 'resp_upstream_1',
        object: 'response',
        created_at: 1_767_000_000,
        status: 'completed',
        completed_at: 1_767_000_001,
        error: null,
        incomplete_details: null,
        instructions: null,
        max_output_tokens: null,
        model: String(body!['model']),
        output: [{ id: 'msg_up_1', type: 'message', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: 'native hello', annotations: [], logprobs: [] }] }],
        parallel_tool_calls: true,
        previous_response_id: null,
        reasoning: { effort: null, summary: null },
        store: false,
        temperature: 1,
        text: { format: { type: 'text' } },
        tool_choice: 'auto',
        tools: [],
        top_p: 1,
        truncation: 'disabled',
        usage: { input_tokens: 4, input_tokens_details: { cached_tokens: 0 }, output_tokens: 2, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 6 },
        metadata: {},
      }),
    );
  });
  const first = await acme.responses.create({ model: 'gpt-4o', input: 'Hi native' });
  t.equal(upstream.requests.at(-1)!.url, '/v1/responses', 'passed through');
  t.equal(upstream.requests.at(-1)!.body!['store'], false, 'the provider is asked not to store');
  t.equal(first.output[0]?.id, 'msg_up_1', "the provider's own Response");
  const got = await acme.responses.retrieve(first.id);
  t.equal(got.id, first.id);
  t.equal(got.output[0]?.id, 'msg_up_1', 'stored as the client got it');
  await acme.responses.create({ model: 'gpt-4o', previous_response_id: first.id, input: 'again' });
  t.equal(upstream.requests.at(-1)!.url, '/v1/chat/completions', 'a chain is translated');
  t.same(lastUpstreamMessages(), [
    { role: 'user', content: 'Hi native' },
    { role: 'assistant', content: 'native hello' },
    { role: 'user', content: 'again' },
  ]);
});

t.test('input items list this turn’s input, newest first by default, with paging', async (t) => {
  const created = await acme.responses.create({
    model: 'gpt-4o-mini',
    input: [
      { role: 'user', content: 'one' },
      { role: 'user', content: 'two' },
      { role: 'user', content: 'three' },
    ],
  });
  const texts = (page: { data: OpenAI.Responses.ResponseItem[] }) => page.data.map((i) => (i.type === 'message' && i.content[0]?.type === 'input_text' ? i.content[0].text : '?'));
  const all = await acme.responses.inputItems.list(created.id);
  t.same(texts(all), ['three', 'two', 'one']);
  t.ok(all.data.every((i) => typeof i.id === 'string' && i.id !== ''), 'every item has an id');
  const first = await acme.responses.inputItems.list(created.id, { order: 'asc', limit: 2 });
  t.same(texts(first), ['one', 'two']);
  t.equal(first.has_more, true);
  const rest = await acme.responses.inputItems.list(created.id, { order: 'asc', limit: 2, after: first.data[1]!.id });
  t.same(texts(rest), ['three']);
  t.equal(rest.has_more, false);
  const bad = await apiError(acme.responses.inputItems.list(created.id, { limit: 500 }));
  t.equal(bad.status, 400);
});

t.test('delete removes a response: retrieve, chain and a second delete are 404', async (t) => {
  const created = await acme.responses.create({ model: 'gpt-4o-mini', input: 'forget me' });
  const deleted = (await acme.responses.delete(created.id)) as unknown;
  t.same(deleted, { id: created.id, object: 'response', deleted: true });
  const gone = await apiError(acme.responses.retrieve(created.id));
  t.equal(gone.status, 404);
  t.equal(gone.code, 'response_not_found');
  t.equal((await apiError(acme.responses.create({ model: 'gpt-4o-mini', previous_response_id: created.id, input: 'x' }))).status, 404);
  t.equal((await apiError(acme.responses.delete(created.id))).status, 404);
});

t.test('another organization gets 404 for the id, for previous_response_id and for delete', async (t) => {
  const created = await acme.responses.create({ model: 'gpt-4o-mini', input: 'acme secret plans' });
  const unknown = await apiError(globex.responses.retrieve('resp_never_made'));
  const retrieve = await apiError(globex.responses.retrieve(created.id));
  t.equal(retrieve.status, 404);
  t.equal(retrieve.code, unknown.code, 'the same answer as for an id that never existed');
  t.equal(retrieve.message.replace(created.id, 'ID'), unknown.message.replace('resp_never_made', 'ID'));
  const before = upstream.requests.length;
  const chain = await apiError(globex.responses.create({ model: 'gpt-4o-mini', previous_response_id: created.id, input: 'what were they?' }));
  t.equal(chain.status, 404);
  t.equal(chain.code, 'response_not_found');
  t.equal(chain.param, 'previous_response_id');
  t.equal(upstream.requests.length, before, 'nothing was sent upstream');
  t.equal((await apiError(globex.responses.delete(created.id))).status, 404);
  t.equal((await acme.responses.retrieve(created.id)).id, created.id, 'still there for its own organization');
});

t.test('store: false is neither retrievable nor continuable', async (t) => {
  const created = await acme.responses.create({ model: 'gpt-4o-mini', input: 'ephemeral', store: false });
  t.equal((created as { store?: unknown }).store, false, 'the Response says it was not stored');
  t.equal((await apiError(acme.responses.retrieve(created.id))).status, 404);
  t.equal((await apiError(acme.responses.create({ model: 'gpt-4o-mini', previous_response_id: created.id, input: 'x' }))).status, 404);
});

t.test('an expired response is gone, and the purge deletes its row', async (t) => {
  const created = await acme.responses.create({ model: 'gpt-4o-mini', input: 'short-lived' });
  const db = await gw.gateway.stores.sql();
  const { rows } = await db.query<{ seconds: number }>('SELECT extract(epoch FROM expires_at - created_at)::int AS seconds FROM responses_stored WHERE id = $1', [created.id]);
  t.equal(rows[0]?.seconds, 30 * 86_400, 'kept 30 days by default');
  await db.query("UPDATE responses_stored SET expires_at = now() - interval '1 second' WHERE id = $1", [created.id]);
  t.equal((await apiError(acme.responses.retrieve(created.id))).status, 404);
  t.equal((await apiError(acme.responses.create({ model: 'gpt-4o-mini', previous_response_id: created.id, input: 'x' }))).status, 404);
  t.equal((await apiError(acme.responses.delete(created.id))).status, 404);
  const state = gw.gateway.services.stateNamed('responses') as ResponsesProcess;
  t.ok((await state.purge()) >= 1, 'the purge deleted it');
  t.same((await db.query('SELECT id FROM responses_stored WHERE id = $1', [created.id])).rows, []);
});

t.test('without auth: one anonymous organization, store_default, retention, and a failed write', async (t) => {
  const anon = await startGateway(`version: 1
stores: { kv: memory, sql: { pglite: memory } }
providers:
  demo: { adapter: mock }
models:
  demo: { targets: [{ provider: demo }] }
pipeline:
  - responses: { store_default: false, retention: 90m }
  - route
`);
  t.teardown(() => anon.close());
  const client = new OpenAI({ baseURL: `${anon.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  const unsaid = await client.responses.create({ model: 'demo', input: 'not kept' });
  t.equal((await apiError(client.responses.retrieve(unsaid.id))).status, 404, 'store_default: false');
  const kept = await client.responses.create({ model: 'demo', input: 'kept', store: true });
  t.equal((await client.responses.retrieve(kept.id)).output_text, 'kept');
  const db = await anon.gateway.stores.sql();
  const { rows } = await db.query<{ seconds: number; org_id: string }>('SELECT org_id, extract(epoch FROM expires_at - created_at)::int AS seconds FROM responses_stored WHERE id = $1', [kept.id]);
  t.same(rows, [{ org_id: '', seconds: 5400 }], 'the anonymous organization, kept 90 minutes');

  await db.query('ALTER TABLE responses_stored RENAME TO responses_stored_away');
  try {
    const answered = await client.responses.create({ model: 'demo', input: 'still answered', store: true });
    t.equal(answered.output_text, 'still answered', 'a failed write does not fail the request');
    t.match(anon.logText(), /storing the response failed/);
  } finally {
    await db.query('ALTER TABLE responses_stored_away RENAME TO responses_stored');
  }
});

t.test('without the plugin: previous_response_id is a 400, the endpoints a 404 saying why', async (t) => {
  const bare = await startGateway(`version: 1
providers:
  demo: { adapter: mock }
models:
  demo: { targets: [{ provider: demo }] }
pipeline:
  - route
`);
  t.teardown(() => bare.close());
  const client = new OpenAI({ baseURL: `${bare.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  const chain = await apiError(client.responses.create({ model: 'demo', input: 'x', previous_response_id: 'resp_1' }));
  t.equal(chain.status, 400);
  t.equal(chain.code, 'previous_response_unsupported');
  t.match(chain.message, /add the `responses` plugin/);
  const retrieve = await apiError(client.responses.retrieve('resp_1'));
  t.equal(retrieve.status, 404);
  t.equal(retrieve.code, 'endpoint_not_enabled');
  t.equal((await client.responses.create({ model: 'demo', input: 'plain' })).output_text, 'plain', 'a request without a chain is served');
});
