/**
 * Issue 13, hostile input on the other APIs' routes: `/v1/messages`, `/v1/messages/count_tokens`
 * (Anthropic) and `/v1/responses` (OpenAI Responses). Malformed, oversized, wrongly typed or
 * inconsistent bodies are a clear 4xx in the route's OWN error shape — Anthropic's
 * `{type:'error', error:{type, message}, request_id}` (https://docs.anthropic.com/en/api/errors),
 * OpenAI's envelope (https://platform.openai.com/docs/guides/error-codes) — carrying the request id,
 * never a 500; upstream failures (500, 429, timeouts) come in the same shapes, and a stream that
 * fails mid-way ends with the dialect's error event. The gateway keeps serving after each.
 */
import t, { type Test } from 'tap';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { scheduledFaults, startMockOpenAI, type MockOpenAI, type ScheduledFault } from '../helpers/mock-openai.js';
import { startWireMock } from '../adapters/wire-mock.js';
import { renderAnthropic } from '../adapters/anthropic-wire.js';

let upstream: MockOpenAI;
let gw: TestGateway;
const LIMIT = 512 * 1024;

t.before(async () => {
  upstream = await startMockOpenAI();
  upstream.on(
    '/v1/chat/completions',
    scheduledFaults(
      new Map(),
      new Map<string, ScheduledFault>([
        ['broken', { status: 500, message: 'upstream broke' }],
        ['limited', { status: 429, message: 'slow down', headers: { 'retry-after': '7' } }],
        ['hang', 'hang'],
        ['cut', { cutAfter: 3 }],
      ]),
    ),
  );
  gw = await startGateway(`version: 1
server: { body_limit: ${LIMIT} }
providers:
  up: { adapter: openai, base_url: "${upstream.baseUrl}", api_key: sk-upstream }
  slow: { adapter: openai, base_url: "${upstream.baseUrl}", api_key: sk-upstream, timeouts: { first_byte: 300ms } }
models:
  ok: { targets: [{ provider: up }] }
  broken: { targets: [{ provider: up }] }
  limited: { targets: [{ provider: up }] }
  hang: { targets: [{ provider: slow }] }
  cut: { targets: [{ provider: up }] }
pipeline:
  - route: { breaker: { enabled: false } }
`, { level: 'fatal' });
});
t.afterEach(() => void (upstream.requests.length = 0));
t.teardown(async () => {
  await gw.close();
  await upstream.close();
});

const MESSAGES = '/v1/messages';
const COUNT = '/v1/messages/count_tokens';
const RESPONSES = '/v1/responses';
type Path = typeof MESSAGES | typeof COUNT | typeof RESPONSES;
const PATHS: Path[] = [MESSAGES, COUNT, RESPONSES];
const JSON_HEADERS = { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' };

/** A body each route accepts. */
const GOOD: Record<Path, Record<string, unknown>> = {
  [MESSAGES]: { model: 'ok', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] },
  [COUNT]: { model: 'ok', messages: [{ role: 'user', content: 'hi' }] },
  [RESPONSES]: { model: 'ok', input: 'hi' },
};

function post(path: Path, body: string | Uint8Array, headers: Record<string, string> = JSON_HEADERS): Promise<Response> {
  return fetch(gw.url + path, { method: 'POST', headers, body });
}
const postJson = (path: Path, value: unknown) => post(path, JSON.stringify(value));

interface RouteError {
  status: number;
  /** Anthropic's `error.type`, or OpenAI's `error.code`. */
  kind: string;
  message: string;
  param?: unknown;
}

/**
 * Reads an error answer and checks it has the route's own shape, exactly, with the request id of the
 * `x-request-id` header. Returns the status, the type (Anthropic) or code (OpenAI) and the message.
 */
async function routeError(t: Test, path: Path, res: Response): Promise<RouteError> {
  t.match(res.headers.get('content-type'), /^application\/json/, 'JSON');
  const id = res.headers.get('x-request-id');
  t.ok(id, 'x-request-id header');
  const body = (await res.json()) as Record<string, unknown>;
  const error = (body['error'] ?? {}) as Record<string, unknown>;
  if (path === RESPONSES) {
    t.same(Object.keys(body), ['error'], `the OpenAI envelope: ${JSON.stringify(body)}`);
    t.same(Object.keys(error).sort(), ['code', 'message', 'param', 'request_id', 'type']);
    t.equal(error['request_id'], id, 'request_id matches the header');
    t.type(error['code'], 'string');
  } else {
    t.same(Object.keys(body).sort(), ['error', 'request_id', 'type'], `Anthropic's error shape: ${JSON.stringify(body)}`);
    t.equal(body['type'], 'error');
    t.same(Object.keys(error).sort(), ['message', 'type']);
    t.equal(body['request_id'], id, 'request_id matches the header');
  }
  t.type(error['message'], 'string');
  t.ok(String(error['message']).length > 0, 'a message');
  return { status: res.status, kind: String(path === RESPONSES ? error['code'] : error['type']), message: String(error['message']), param: error['param'] };
}

/** A 4xx, in the route's shape; for Anthropic routes its `type` must be Anthropic's for the status. */
async function expect4xx(t: Test, path: Path, res: Response, status: number, kindOrCode?: string): Promise<RouteError> {
  t.equal(res.status, status, `status ${status}`);
  const error = await routeError(t, path, res);
  if (kindOrCode !== undefined) t.equal(error.kind, kindOrCode, path === RESPONSES ? 'code' : 'type');
  else if (path !== RESPONSES) t.equal(error.kind, status === 413 ? 'request_too_large' : 'invalid_request_error');
  return error;
}

/** A good request on every route still works. */
async function stillServes(t: Test): Promise<void> {
  for (const path of PATHS) {
    const res = await postJson(path, GOOD[path]);
    t.equal(res.status, 200, `${path} still answers`);
    const body = (await res.json()) as Record<string, unknown>;
    if (path === MESSAGES) t.equal(body['type'], 'message');
    else if (path === COUNT) t.ok(Number(body['input_tokens']) > 0, 'tokens counted');
    else t.equal(body['object'], 'response');
  }
}

/** The OpenAI `code` expected on the Responses route; Anthropic routes check their `type` for the status instead. */
const openaiCode = (path: Path, code: string) => (path === RESPONSES ? code : undefined);

t.test('malformed, empty and non-object JSON bodies are 400 in each route shape', async (t) => {
  for (const path of PATHS) {
    for (const raw of ['{"model": "ok", "messages": [', '{model: ok}', '', '[1,2,3]', '"just a string"', 'null', '42', '{"max_tokens": NaN}']) {
      await expect4xx(t, path, await post(path, raw), 400, openaiCode(path, 'invalid_json'));
    }
    await expect4xx(t, path, await post(path, Buffer.from([0x7b, 0xff, 0xfe, 0x7d])), 400, openaiCode(path, 'invalid_encoding'));
    const none = await fetch(gw.url + path, { method: 'POST' });
    await expect4xx(t, path, none, 400, openaiCode(path, 'invalid_json'));
  }
  t.equal(upstream.requests.length, 0, 'nothing reached the upstream');
  await stillServes(t);
});

t.test('a content type other than JSON is 415 in each route shape', async (t) => {
  for (const path of PATHS) {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      await expect4xx(t, path, await post(path, JSON.stringify(GOOD[path]), { 'content-type': type }), 415, openaiCode(path, 'unsupported_media_type'));
    }
  }
  await stillServes(t);
});

t.test('a body over server.body_limit is 413, declared or chunked, in each route shape', async (t) => {
  for (const path of PATHS) {
    const big = JSON.stringify({ ...GOOD[path], metadata: { user_id: 'x'.repeat(LIMIT) } });
    await expect4xx(t, path, await post(path, big), 413, 'request_too_large');
    const piece = new TextEncoder().encode(' '.repeat(64 * 1024));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 10) controller.enqueue(piece);
        else controller.close();
      },
    });
    const chunked = await fetch(gw.url + path, { method: 'POST', headers: JSON_HEADERS, body, duplex: 'half' } as RequestInit);
    await expect4xx(t, path, chunked, 413, 'request_too_large');
  }
  t.equal(upstream.requests.length, 0);
  await stillServes(t);
});

t.test('deep nesting is 400, not a stack overflow', async (t) => {
  const nested = `${'['.repeat(10_000)}${']'.repeat(10_000)}`;
  const raws: Record<Path, string> = {
    [MESSAGES]: `{"model":"ok","max_tokens":5,"messages":[{"role":"user","content":"x"}],"tools":[{"name":"t","input_schema":{"type":"object","x":${nested}}}]}`,
    [COUNT]: `{"model":"ok","messages":[{"role":"user","content":"x"}],"system":${nested}}`,
    [RESPONSES]: `{"model":"ok","input":[{"type":"function_call_output","call_id":"c","output":${nested}}]}`,
  };
  for (const path of PATHS) {
    const error = await expect4xx(t, path, await post(path, raws[path]), 400, openaiCode(path, 'invalid_json'));
    t.match(error.message, /nested deeper/);
  }
  t.equal(upstream.requests.length, 0);
  await stillServes(t);
});

t.test('Anthropic routes: wrong types, missing fields, unknown roles and blocks are 400 naming the field', async (t) => {
  const user = [{ role: 'user', content: 'hi' }];
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['missing model', { max_tokens: 5, messages: user }, /model/],
    ['model is a number', { model: 42, max_tokens: 5, messages: user }, /model/],
    ['missing max_tokens', { model: 'ok', messages: user }, /max_tokens/],
    ['max_tokens negative', { model: 'ok', max_tokens: -1, messages: user }, /max_tokens/],
    ['max_tokens zero', { model: 'ok', max_tokens: 0, messages: user }, /max_tokens/],
    ['max_tokens fractional', { model: 'ok', max_tokens: 1.5, messages: user }, /max_tokens/],
    ['max_tokens a string', { model: 'ok', max_tokens: '5', messages: user }, /max_tokens/],
    ['missing messages', { model: 'ok', max_tokens: 5 }, /messages/],
    ['messages empty', { model: 'ok', max_tokens: 5, messages: [] }, /messages/],
    ['messages a string', { model: 'ok', max_tokens: 5, messages: 'hi' }, /messages/],
    ['messages an object', { model: 'ok', max_tokens: 5, messages: { role: 'user', content: 'hi' } }, /messages/],
    ['a message that is null', { model: 'ok', max_tokens: 5, messages: [null] }, /messages\[0\]/],
    ['unknown role', { model: 'ok', max_tokens: 5, messages: [{ role: 'robot', content: 'hi' }] }, /messages\[0\]\.role/],
    ['system role in messages', { model: 'ok', max_tokens: 5, messages: [{ role: 'system', content: 'hi' }] }, /messages\[0\]\.role/],
    ['content a number', { model: 'ok', max_tokens: 5, messages: [{ role: 'user', content: 42 }] }, /messages\[0\]\.content/],
    ['content missing', { model: 'ok', max_tokens: 5, messages: [{ role: 'user' }] }, /messages\[0\]\.content/],
    ['a block without type', { model: 'ok', max_tokens: 5, messages: [{ role: 'user', content: [{ text: 'hi' }] }] }, /messages\[0\]\.content\[0\]/],
    ['a text block without text', { model: 'ok', max_tokens: 5, messages: [{ role: 'user', content: [{ type: 'text' }] }] }, /messages\[0\]\.content\[0\]/],
    ['an unknown block type', { model: 'ok', max_tokens: 5, messages: [{ role: 'user', content: [{ type: 'x_future_block', data: 1 }] }] }, /x_future_block/],
    ['an image with an unknown source', { model: 'ok', max_tokens: 5, messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'file', file_id: 'f' } }] }] }, /messages\[0\]\.content\[0\]\.source|file/],
    ['system a number', { model: 'ok', max_tokens: 5, system: 7, messages: user }, /system/],
    ['system with an image block', { model: 'ok', max_tokens: 5, system: [{ type: 'image', source: { type: 'url', url: 'https://example.com/a.png' } }], messages: user }, /system/],
    ['temperature a string', { model: 'ok', max_tokens: 5, messages: user, temperature: 'INF' }, /temperature/],
    ['temperature above 1', { model: 'ok', max_tokens: 5, messages: user, temperature: 1.5 }, /temperature/],
    ['stream a string', { model: 'ok', max_tokens: 5, messages: user, stream: 'yes' }, /stream/],
    ['stop_sequences a string', { model: 'ok', max_tokens: 5, messages: user, stop_sequences: 'END' }, /stop_sequences/],
    ['tools an object', { model: 'ok', max_tokens: 5, messages: user, tools: { name: 't' } }, /tools/],
    ['tool_choice unknown', { model: 'ok', max_tokens: 5, messages: user, tool_choice: { type: 'whatever' } }, /tool_choice/],
    [
      'a tool_result for an unknown tool_use id',
      { model: 'ok', max_tokens: 5, messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_nobody', content: 'sunny' }] }] },
      /toolu_nobody/,
    ],
    [
      'a tool_result answering a tool_use two turns back',
      {
        model: 'ok',
        max_tokens: 5,
        messages: [
          { role: 'user', content: 'weather?' },
          { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'w', input: {} }] },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'sunny' }] },
          { role: 'assistant', content: 'It is sunny.' },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'again' }] },
        ],
      },
      /toolu_1/,
    ],
  ];
  for (const path of [MESSAGES, COUNT] as const) {
    for (const [name, body, param] of cases) {
      if (path === COUNT && /max_tokens|temperature|stream|stop_sequences/.test(name)) continue;
      const sent = path === COUNT ? Object.fromEntries(Object.entries(body).filter(([k]) => k !== 'max_tokens')) : body;
      await t.test(`${path}: ${name}`, async (t) => {
        const error = await expect4xx(t, path, await postJson(path, sent), 400);
        t.match(error.message, param, `the message names the field: ${error.message}`);
      });
    }
  }
  t.equal(upstream.requests.length, 0, 'nothing reached the upstream');
  await stillServes(t);
});

t.test('numbers that are not finite (1e999) are 400 on every route', async (t) => {
  const raws: [Path, string, string][] = [
    [MESSAGES, '{"model":"ok","max_tokens":1e999,"messages":[{"role":"user","content":"hi"}]}', 'max_tokens'],
    [MESSAGES, '{"model":"ok","max_tokens":5,"temperature":-1e999,"messages":[{"role":"user","content":"hi"}]}', 'temperature'],
    [MESSAGES, '{"model":"ok","max_tokens":5,"top_k":1e999,"messages":[{"role":"user","content":"hi"}]}', 'top_k'],
    [COUNT, '{"model":"ok","messages":[{"role":"user","content":"hi"}],"thinking":{"type":"enabled","budget_tokens":1e999}}', 'thinking.budget_tokens'],
    [RESPONSES, '{"model":"ok","input":"hi","max_output_tokens":1e999}', 'max_output_tokens'],
    [RESPONSES, '{"model":"ok","input":"hi","temperature":1e999}', 'temperature'],
    [RESPONSES, '{"model":"ok","input":"hi","top_p":-1e999}', 'top_p'],
  ];
  for (const [path, raw, param] of raws) {
    const error = await expect4xx(t, path, await post(path, raw), 400, openaiCode(path, 'invalid_request_body'));
    t.match(error.message, param, error.message);
    if (path === RESPONSES) t.equal(error.param, param);
  }
  t.equal(upstream.requests.length, 0);
  await stillServes(t);
});

t.test('Responses: wrong types, missing fields, unknown items and roles are 400 naming the param', async (t) => {
  const cases: [string, Record<string, unknown>, string, string | RegExp][] = [
    ['missing input', { model: 'ok' }, 'invalid_request_body', 'input'],
    ['input a number', { model: 'ok', input: 42 }, 'invalid_request_body', 'input'],
    ['input null', { model: 'ok', input: null }, 'invalid_request_body', 'input'],
    ['input empty list', { model: 'ok', input: [] }, 'invalid_request_body', 'input'],
    ['model a number', { model: 42, input: 'hi' }, 'invalid_request_body', 'model'],
    ['an item that is a string', { model: 'ok', input: ['hi'] }, 'invalid_request_body', 'input[0]'],
    ['an unknown item type', { model: 'ok', input: [{ type: 'x_future_item' }] }, 'unsupported_input_item', 'input[0].type'],
    ['an unknown role', { model: 'ok', input: [{ role: 'robot', content: 'hi' }] }, 'invalid_request_body', /input\[0\]/],
    ['a message without content', { model: 'ok', input: [{ role: 'user' }] }, 'invalid_request_body', /input\[0\]/],
    ['content a number', { model: 'ok', input: [{ role: 'user', content: 42 }] }, 'invalid_request_body', /input\[0\]\.content/],
    ['an unknown content part', { model: 'ok', input: [{ role: 'user', content: [{ type: 'x_part' }] }] }, 'unsupported_content', 'input[0].content[0].type'],
    ['input_text without text', { model: 'ok', input: [{ role: 'user', content: [{ type: 'input_text' }] }] }, 'invalid_request_body', /input\[0\]\.content\[0\]/],
    ['an image by file id', { model: 'ok', input: [{ role: 'user', content: [{ type: 'input_image', file_id: 'file-1' }] }] }, 'unsupported_content', 'input[0].content[0].image_url'],
    ['a hosted tool', { model: 'ok', input: 'hi', tools: [{ type: 'web_search' }] }, 'unsupported_tool', 'tools[0].type'],
    ['a function tool without a name', { model: 'ok', input: 'hi', tools: [{ type: 'function' }] }, 'invalid_request_body', /tools\[0\]/],
    ['max_output_tokens negative', { model: 'ok', input: 'hi', max_output_tokens: -5 }, 'invalid_request_body', 'max_output_tokens'],
    ['max_output_tokens a string', { model: 'ok', input: 'hi', max_output_tokens: '5' }, 'invalid_request_body', 'max_output_tokens'],
    ['temperature a string', { model: 'ok', input: 'hi', temperature: 'hot' }, 'invalid_request_body', 'temperature'],
    ['stream a string', { model: 'ok', input: 'hi', stream: 'yes' }, 'invalid_request_body', 'stream'],
    ['tool_choice unknown', { model: 'ok', input: 'hi', tool_choice: 'sometimes' }, 'invalid_request_body', 'tool_choice'],
    ['text.format unknown', { model: 'ok', input: 'hi', text: { format: { type: 'yaml' } } }, 'invalid_request_body', /text\.format/],
    ['background', { model: 'ok', input: 'hi', background: true }, 'unsupported_parameter', 'background'],
    ['a function_call_output without a call', { model: 'ok', input: [{ type: 'function_call_output', call_id: 'call_nobody', output: 'sunny' }] }, 'invalid_request_body', 'input[0].call_id'],
    [
      'a function_call_output for another call',
      {
        model: 'ok',
        input: [
          { role: 'user', content: 'weather?' },
          { type: 'function_call', call_id: 'call_1', name: 'w', arguments: '{}' },
          { type: 'function_call_output', call_id: 'call_2', output: 'sunny' },
        ],
      },
      'invalid_request_body',
      'input[2].call_id',
    ],
  ];
  for (const [name, body, code, param] of cases) {
    await t.test(name, async (t) => {
      const error = await expect4xx(t, RESPONSES, await postJson(RESPONSES, body), 400, code);
      if (typeof param === 'string') t.equal(error.param, param, 'param');
      else t.match(String(error.param), param, `param ${String(error.param)}`);
    });
  }
  t.equal(upstream.requests.length, 0, 'nothing reached the upstream');
  await stillServes(t);
});

t.test('10,000 content blocks or input items are served, not a crash', async (t) => {
  const blocks = Array.from({ length: 10_000 }, (_, i) => ({ type: 'text', text: `b${i}` }));
  const messages = await postJson(MESSAGES, { model: 'ok', max_tokens: 5, messages: [{ role: 'user', content: blocks }] });
  t.equal(messages.status, 200, 'messages');
  t.equal(((await messages.json()) as { type: string }).type, 'message');
  const sent = upstream.requests.at(-1)!.body as { messages: { content: string }[] };
  t.equal(sent.messages[0]!.content.split('\n').length, 10_000, 'every block translated');

  const count = await postJson(COUNT, { model: 'ok', messages: [{ role: 'user', content: blocks }] });
  t.equal(count.status, 200, 'count_tokens');
  t.ok(((await count.json()) as { input_tokens: number }).input_tokens >= 10_000, 'counts every block');

  const items = Array.from({ length: 10_000 }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: `m${i}` }));
  const responses = await postJson(RESPONSES, { model: 'ok', input: items });
  t.equal(responses.status, 200, 'responses');
  t.equal((upstream.requests.at(-1)!.body as { messages: unknown[] }).messages.length, 10_000);
  await stillServes(t);
});

t.test('unicode edge cases pass through intact', async (t) => {
  // A lone surrogate, NUL, a BOM, right-to-left and zero-width marks, an astral emoji, combining marks.
  const text = 'a\ud800b \u0000 \ufeff \u202eevil\u202c \u200b 🧪👩🏽‍🔬 e\u0301';
  for (const path of PATHS) {
    const body = path === RESPONSES ? { model: 'ok', input: [{ role: 'user', content: [{ type: 'input_text', text }] }] } : { ...GOOD[path], system: text, messages: [{ role: 'user', content: text }] };
    const res = await postJson(path, body);
    t.equal(res.status, 200, `${path}: ${res.status}`);
    await res.text();
  }
  const sent = upstream.requests.filter((r) => r.body !== undefined).map((r) => r.raw);
  t.equal(sent.length, 2, 'messages and responses reached the upstream (count_tokens is local)');
  for (const raw of sent) t.match(raw, /\\ud800/i, 'the lone surrogate is escaped, not mangled');
  for (const raw of sent) t.ok(raw.includes('👩🏽‍🔬') && raw.includes('\u202e'), 'the rest as sent');
  await stillServes(t);
});

t.test('upstream failures come in the route shape: 500, 429 with Retry-After, a timeout', async (t) => {
  for (const path of [MESSAGES, RESPONSES] as const) {
    for (const stream of [false, true]) {
      const body = (model: string) => ({ ...GOOD[path], model, ...(stream ? { stream: true } : {}) });
      const broken = await postJson(path, body('broken'));
      t.ok(broken.status >= 500 && broken.status < 600, `${path} 500 upstream → ${broken.status}`);
      const b = await routeError(t, path, broken);
      if (path === MESSAGES) t.equal(b.kind, 'api_error');

      const limited = await postJson(path, body('limited'));
      t.equal(limited.status, 429, `${path} 429 upstream`);
      t.equal(limited.headers.get('retry-after'), '7', 'Retry-After passed on');
      const l = await routeError(t, path, limited);
      if (path === MESSAGES) t.equal(l.kind, 'rate_limit_error');

      const hang = await postJson(path, body('hang'));
      t.equal(hang.status, 504, `${path} timeout`);
      const h = await routeError(t, path, hang);
      if (path === MESSAGES) t.equal(h.kind, 'timeout_error');
    }
  }
  await stillServes(t);
});

/** Parses an SSE text into `[event, data]` pairs. */
function events(text: string): [string | undefined, Record<string, unknown>][] {
  return text
    .split('\n\n')
    .filter((block) => block.trim() !== '')
    .map((block) => {
      const event = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1] ?? '';
      return [event, data === '[DONE]' ? { done: true } : (JSON.parse(data) as Record<string, unknown>)];
    });
}

t.test('a stream cut by the upstream mid-way ends with the dialect error event', async (t) => {
  const messages = await postJson(MESSAGES, { ...GOOD[MESSAGES], model: 'cut', stream: true });
  t.equal(messages.status, 200);
  const id = messages.headers.get('x-request-id');
  const m = events(await messages.text());
  t.equal(m[0]![0], 'message_start');
  t.ok(m.some(([e]) => e === 'content_block_delta'), 'some text arrived first');
  const [lastEvent, lastData] = m.at(-1)!;
  t.equal(lastEvent, 'error', 'Anthropic `event: error` last');
  t.equal(lastData['type'], 'error');
  t.match(lastData['error'], { type: 'api_error', message: String });
  t.equal(lastData['request_id'], id);
  t.notOk(m.some(([e]) => e === 'message_stop'), 'no message_stop after a failure');

  const responses = await postJson(RESPONSES, { ...GOOD[RESPONSES], model: 'cut', stream: true });
  t.equal(responses.status, 200);
  const r = events(await responses.text());
  t.equal(r[0]![0], 'response.created');
  t.ok(r.some(([e]) => e === 'response.output_text.delta'), 'some text arrived first');
  const kinds = r.map(([e]) => e);
  t.same(kinds.slice(-2), ['error', 'response.failed'], 'Responses `error` then `response.failed` last');
  const failed = r.at(-1)![1]['response'] as { status: string; error: { code: string; message: string } };
  t.equal(failed.status, 'failed');
  t.equal(failed.error.code, 'server_error');
  t.notOk(kinds.includes('response.completed'), 'never completed');
  const numbers = r.map(([, d]) => d['sequence_number']);
  t.same(numbers, numbers.map((_, i) => i), 'sequence numbers stay consecutive through the failure');
  await stillServes(t);
});

t.test('a native Anthropic stream that falls silent mid-way ends with `event: error` after the provider frames', async (t) => {
  const mock = await startWireMock(renderAnthropic);
  const native = await startGateway(
    `version: 1
providers:
  ant: { adapter: anthropic, base_url: "${mock.baseUrl}", api_key: sk-ant-provider, timeouts: { first_byte: 300ms } }
models:
  claude: { targets: [{ provider: ant, model: claude-sonnet-4-5 }] }
`,
    { level: 'fatal' },
  );
  t.teardown(async () => {
    await native.close();
    await mock.close();
  });
  mock.respondWith({ kind: 'hang', part: 'partial' });
  const res = await fetch(`${native.url}/v1/messages`, {
    method: 'POST',
    headers: JSON_HEADERS,
    body: JSON.stringify({ model: 'claude', max_tokens: 16, stream: true, messages: [{ role: 'user', content: 'hi' }] }),
  });
  t.equal(res.status, 200);
  const id = res.headers.get('x-request-id');
  const all = events(await res.text());
  t.equal(all[0]![0], 'message_start');
  t.ok(all.some(([e, d]) => e === 'content_block_delta' && JSON.stringify(d).includes('partial')), "the provider's delta went out first");
  const [event, data] = all.at(-1)!;
  t.equal(event, 'error', 'then `event: error`');
  // A stream that broke off after its first chunk is the gateway's 502 (api_error), its message says why.
  t.match(data, { type: 'error', error: { type: 'api_error', message: /timed out|timeout|silent/i }, request_id: id });
  t.same(Object.keys(data).sort(), ['error', 'request_id', 'type']);
  t.notOk(all.some(([e]) => e === 'message_stop'), 'no message_stop');
});
