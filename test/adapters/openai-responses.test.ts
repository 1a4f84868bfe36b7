/**
 * `/v1/responses` through the gateway to an `openai` provider: translated to chat completions by
 * default, passed through to the upstream's own `/responses` with `responses_api: true`. Upstream
 * wire formats per https://platform.openai.com/docs/api-reference/responses (Response object,
 * streaming events) and https://platform.openai.com/docs/api-reference/chat/create.
 */
import t from 'tap';
import type { IncomingMessage, ServerResponse } from 'node:http';
import OpenAI from 'openai';
import { startGateway } from '../helpers/gateway.js';
import { eventSchemaName, specSchema } from '../helpers/responses-spec.js';
import { startServer } from './wire-mock.js';

type Json = Record<string, any>;

const created = 1_767_000_000;
const USAGE = { input_tokens: 11, input_tokens_details: { cached_tokens: 3, cache_write_tokens: 0 }, output_tokens: 5, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 16 };

/** A Response as OpenAI returns it (the object in the API reference). */
function upstreamResponse(text: string): Json {
  return {
    id: 'resp_upstream_1',
    object: 'response',
    created_at: created,
    status: 'completed',
    completed_at: created + 1,
    error: null,
    incomplete_details: null,
    instructions: null,
    max_output_tokens: null,
    model: 'gpt-4o-mini-2024-07-18',
    output: [{ id: 'msg_up_1', type: 'message', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text, annotations: [], logprobs: [] }] }],
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
    usage: USAGE,
    metadata: {},
  };
}

/** OpenAI's streamed events for a two-delta text answer. */
function upstreamEvents(): Json[] {
  const done = upstreamResponse('Bonjour!');
  const inProgress = { ...done, status: 'in_progress', completed_at: null, output: [], usage: null };
  const item = { id: 'msg_up_1', type: 'message', status: 'in_progress', role: 'assistant', content: [] };
  const part = { type: 'output_text', text: '', annotations: [], logprobs: [] };
  const at = { item_id: 'msg_up_1', output_index: 0, content_index: 0 };
  return [
    { type: 'response.created', response: inProgress },
    { type: 'response.in_progress', response: inProgress },
    { type: 'response.output_item.added', output_index: 0, item },
    { type: 'response.content_part.added', ...at, part },
    { type: 'response.output_text.delta', ...at, delta: 'Bon', logprobs: [] },
    { type: 'response.output_text.delta', ...at, delta: 'jour!', logprobs: [] },
    { type: 'response.output_text.done', ...at, text: 'Bonjour!', logprobs: [] },
    { type: 'response.content_part.done', ...at, part: { ...part, text: 'Bonjour!' } },
    { type: 'response.output_item.done', output_index: 0, item: done['output'][0] },
    { type: 'response.completed', response: done },
  ].map((e, i) => ({ ...e, sequence_number: i }));
}

const chatCompletion = (text: string): Json => ({
  id: 'chatcmpl-1',
  object: 'chat.completion',
  created,
  model: 'gpt-4o-mini',
  choices: [{ index: 0, message: { role: 'assistant', content: text, refusal: null }, logprobs: null, finish_reason: 'stop' }],
  usage: { prompt_tokens: 11, completion_tokens: 5, total_tokens: 16 },
});

interface Call {
  path: string;
  body: Json;
}

const calls: Call[] = [];
const upstream = await startServer(async (req: IncomingMessage, res: ServerResponse) => {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Json;
  calls.push({ path: req.url ?? '', body });
  if (req.url === '/v1/responses') {
    if (!body['stream']) return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(upstreamResponse('Bonjour!')));
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    return void res.end(upstreamEvents().map((e) => `event: ${e['type']}\ndata: ${JSON.stringify(e)}\n\n`).join(''));
  }
  if (!body['stream']) return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(chatCompletion('Hello from chat.')));
  const chunk = (delta: Json | null, finish: string | null = null, usage?: Json) => ({
    id: 'chatcmpl-1',
    object: 'chat.completion.chunk',
    created,
    model: 'gpt-4o-mini',
    choices: delta ? [{ index: 0, delta, logprobs: null, finish_reason: finish }] : [],
    ...(usage ? { usage } : {}),
  });
  const frames = [chunk({ role: 'assistant', content: 'Hello ' }), chunk({ content: 'from chat.' }), chunk({}, 'stop'), chunk(null, null, chatCompletion('')['usage'])];
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  res.end([...frames.map((c) => JSON.stringify(c)), '[DONE]'].map((d) => `data: ${d}\n\n`).join(''));
});
t.teardown(() => upstream.close());

const gw = await startGateway(`version: 1
providers:
  native: { adapter: openai, base_url: "${upstream.url}/v1", api_key: sk-up, responses_api: true }
  chat: { adapter: openai, base_url: "${upstream.url}/v1", api_key: sk-up }
models:
  native-model: { targets: [{ provider: native, model: gpt-4o-mini }] }
  guarded-model: { targets: [{ provider: native, model: gpt-4o-mini }] }
  tempered-model: { targets: [{ provider: native, model: gpt-4o-mini }] }
  chat-model: { targets: [{ provider: chat, model: gpt-4o-mini }] }
pipeline:
  - transform:
      rules:
        - match: { models: [guarded-model] }
          request:
            system_prompt: { content: "House rules.", position: prepend }
        - match: { models: [tempered-model] }
          request:
            set: { temperature: 0 }
            default: { max_completion_tokens: 64 }
            remove: [user]
  - route: {}
`);
t.teardown(() => gw.close());

async function post(body: Json, requestId: string): Promise<globalThis.Response> {
  return fetch(`${gw.url}/v1/responses`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': requestId }, body: JSON.stringify(body) });
}

t.test('without responses_api the request is translated to chat completions', async (t) => {
  calls.length = 0;
  const res = await post({ model: 'chat-model', input: 'Hi', instructions: 'Be brief.' }, 'rq-chat-1');
  t.equal(res.status, 200);
  const body = (await res.json()) as Json;
  t.equal(calls[0]?.path, '/v1/chat/completions');
  t.same(calls[0]?.body['messages'], [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'Hi' },
  ]);
  t.match(body, { id: 'resp_rq-chat-1', object: 'response', status: 'completed', model: 'chat-model', instructions: 'Be brief.' });
  t.equal(body['output'][0]['content'][0]['text'], 'Hello from chat.');
  t.equal(body['usage']['total_tokens'], 16);
});

/** SSE frames → `[event name, data]`. */
function framesOf(text: string): [string | undefined, Json][] {
  return text
    .split('\n\n')
    .filter(Boolean)
    .map((frame) => {
      const lines = frame.split('\n');
      const name = lines.find((l) => l.startsWith('event: '))?.slice(7);
      return [name, JSON.parse(lines.find((l) => l.startsWith('data: '))!.slice(6)) as Json];
    });
}

t.test('translated answers through the gateway are valid against the OpenAPI spec', async (t) => {
  const plain = (await (await post({ model: 'chat-model', input: 'Hi' }, 'rq-spec-1')).json()) as Json;
  const validResponse = specSchema('Response');
  t.ok(validResponse(plain), 'the Response', { errors: validResponse.errors });
  const res = await post({ model: 'chat-model', input: 'Hi', stream: true }, 'rq-spec-2');
  t.match(res.headers.get('content-type'), /text\/event-stream/);
  const frames = framesOf(await res.text());
  t.same(frames.map(([, d]) => d['sequence_number']), frames.map((_, i) => i), 'numbered from 0');
  for (const [name, data] of frames) {
    t.equal(name, data['type'], `event: ${name}`);
    const schema = eventSchemaName(String(data['type']));
    if (!schema) {
      t.fail(`${String(data['type'])} is not a Responses event`);
      continue;
    }
    const validate = specSchema(schema);
    t.ok(validate(data), `${schema}`, { errors: validate.errors });
  }
  const last = frames.at(-1)![1];
  t.equal(last['type'], 'response.completed');
  t.equal(last['response']['usage']['total_tokens'], 16, 'usage on the streamed response');
  t.same(last['response']['output'], plain['output'].map((o: Json) => ({ ...o, id: o['id'].replace('rq-spec-1', 'rq-spec-2') })), 'streamed and non-streamed output agree');
});

t.test('with responses_api the client body goes to /responses and the answer comes back as the provider made it', async (t) => {
  calls.length = 0;
  const res = await post({ model: 'native-model', input: 'Hi', metadata: { team: 'blue' }, store: true }, 'rq-native-1');
  t.equal(res.status, 200);
  const body = (await res.json()) as Json;
  t.equal(calls[0]?.path, '/v1/responses');
  t.same(calls[0]?.body, { model: 'gpt-4o-mini', input: 'Hi', metadata: { team: 'blue' }, store: false }, 'the client body with the target model; the provider does not store');
  t.same(body, { ...upstreamResponse('Bonjour!'), id: 'resp_rq-native-1' }, 'the native Response under the gateway id');
});

t.test('a native stream is the provider events, relabelled with the gateway id', async (t) => {
  calls.length = 0;
  const res = await post({ model: 'native-model', input: 'Hi', stream: true }, 'rq-native-2');
  t.equal(res.status, 200);
  const text = await res.text();
  t.equal(calls[0]?.path, '/v1/responses');
  t.equal(calls[0]?.body['stream'], true);
  const events = framesOf(text).map(([, data]) => data);
  const sent = upstreamEvents();
  t.same(events.map((e) => e['type']), sent.map((e) => e['type']), 'every provider event, in order');
  t.equal(events[0]!['response']['id'], 'resp_rq-native-2');
  t.equal(events.at(-1)!['response']['id'], 'resp_rq-native-2');
  t.same(events[4], sent[4], 'deltas pass as they came');
});

t.test('a plugin that rewrote the conversation keeps the request translated, so the rewrite cannot be bypassed', async (t) => {
  calls.length = 0;
  const res = await post({ model: 'guarded-model', input: 'Hi' }, 'rq-guarded-1');
  t.equal(res.status, 200);
  const body = (await res.json()) as Json;
  t.equal(calls[0]?.path, '/v1/chat/completions', 'not the native /responses');
  t.same(calls[0]?.body['messages'], [
    { role: 'system', content: 'House rules.' },
    { role: 'user', content: 'Hi' },
  ]);
  t.equal(body['id'], 'resp_rq-guarded-1');
  t.equal(body['output'][0]['content'][0]['text'], 'Hello from chat.');
});

t.test('request settings a plugin set, defaulted or removed hold on the native path', async (t) => {
  calls.length = 0;
  const res = await post({ model: 'tempered-model', input: 'Hi', temperature: 1.5, user: 'u-1', reasoning: { effort: 'low', summary: 'auto' } }, 'rq-tempered-1');
  t.equal(res.status, 200);
  t.equal(calls[0]?.path, '/v1/responses');
  t.same(calls[0]?.body, { model: 'gpt-4o-mini', input: 'Hi', temperature: 0, max_output_tokens: 64, reasoning: { effort: 'low', summary: 'auto' }, store: false });
});

t.test('the official SDK runs against both targets', async (t) => {
  const client = new OpenAI({ apiKey: 'sk-none', baseURL: `${gw.url}/v1`, maxRetries: 0 });
  for (const model of ['native-model', 'chat-model']) {
    const created = await client.responses.create({ model, input: 'Hi' });
    t.match(created.output_text, /Bonjour!|Hello from chat\./, `${model}: create`);
    const stream = client.responses.stream({ model, input: 'Hi' });
    const final = await stream.finalResponse();
    t.equal(final.output_text, created.output_text, `${model}: streamed text equals the created one`);
    t.equal(final.usage?.total_tokens, 16, `${model}: usage`);
  }
});

t.test('hostile input is a 400 in the OpenAI envelope, never a 500, and never reaches the provider', async (t) => {
  calls.length = 0;
  const cases: [Json, string, string][] = [
    [{ model: 'chat-model', input: 5 }, 'invalid_request_body', 'input'],
    [{ model: 'chat-model', input: [{ type: 'item_reference', id: 'msg_1' }] }, 'unsupported_input_item', 'input[0].type'],
    [{ model: 'chat-model', input: 'x', tools: [{ type: 'file_search', vector_store_ids: [] }] }, 'unsupported_tool', 'tools[0].type'],
    [{ model: 'native-model', input: [{ role: 'user' }] }, 'invalid_request_body', 'input[0].content'],
  ];
  for (const [body, code, param] of cases) {
    const res = await post(body, 'rq-bad');
    const error = ((await res.json()) as Json)['error'];
    t.equal(res.status, 400, `${param}: status`);
    t.match(error, { type: 'invalid_request_error', code, param, request_id: 'rq-bad' }, `${param}: envelope`);
  }
  t.equal(calls.length, 0);
});
