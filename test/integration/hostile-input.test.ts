/**
 * Hostile and malformed request bodies, headers and URLs sent with `fetch`. Every rejection must be
 * the OpenAI error envelope with the right status, code and param, and the gateway must keep
 * serving normal requests afterwards. Raw-socket cases live in hostile-http.test.ts.
 */
import t, { type Test } from 'tap';
import { startGateway, openaiConfig, type TestGateway } from '../helpers/gateway.js';
import { startMockOpenAI, type MockOpenAI } from '../helpers/mock-openai.js';

let upstream: MockOpenAI;
let gw: TestGateway;

t.before(async () => {
  upstream = await startMockOpenAI();
  gw = await startGateway(openaiConfig(upstream.baseUrl, 'server: { body_limit: 32kb }\n'));
});
t.afterEach(() => upstream.reset());
t.teardown(async () => {
  await gw.close();
  await upstream.close();
});

const CHAT = '/v1/chat/completions';
const JSON_HEADERS = { 'content-type': 'application/json' };

function post(body: string | Uint8Array, headers: Record<string, string> = JSON_HEADERS, path = CHAT): Promise<Response> {
  return fetch(gw.url + path, { method: 'POST', headers, body });
}

function postJson(value: unknown): Promise<Response> {
  return post(JSON.stringify(value));
}

/** Asserts status, the exact envelope shape, code, param, and that `request_id` matches the header. */
async function expectError(t: Test, res: Response, status: number, code: string, param: string | null = null): Promise<Record<string, unknown>> {
  t.equal(res.status, status, 'status');
  t.match(res.headers.get('content-type'), /^application\/json/, 'JSON content type');
  const id = res.headers.get('x-request-id');
  t.ok(id, 'x-request-id header');
  const body = (await res.json()) as { error: Record<string, unknown> };
  t.same(Object.keys(body), ['error'], 'only an error key');
  t.same(Object.keys(body.error).sort(), ['code', 'message', 'param', 'request_id', 'type'], 'envelope fields');
  t.type(body.error['message'], 'string');
  t.ok((body.error['message'] as string).length > 0, 'message is not empty');
  t.equal(body.error['type'], 'invalid_request_error', 'type');
  t.equal(body.error['code'], code, 'code');
  t.equal(body.error['param'], param, 'param');
  t.equal(body.error['request_id'], id, 'request_id matches the header');
  return body.error;
}

/** The gateway answers a normal chat request right after the hostile one. */
async function stillServes(t: Test): Promise<void> {
  const res = await postJson({ model: 'demo', messages: [{ role: 'user', content: 'still there?' }] });
  t.equal(res.status, 200, 'a normal request still succeeds');
  const body = (await res.json()) as { choices: unknown[] };
  t.equal(body.choices.length, 1);
}

t.test('malformed or non-object JSON bodies are 400 invalid_json', async (t) => {
  for (const raw of ['{"model": "demo", "messages": [', '{model: demo}', '', '[1,2,3]', '"just a string"', 'null', '42']) {
    await t.test(`body ${JSON.stringify(raw)}`, async (t) => {
      await expectError(t, await post(raw), 400, 'invalid_json');
    });
  }
  await stillServes(t);
});

t.test('a body without a content type is still parsed as JSON, so an empty one is 400', async (t) => {
  const res = await fetch(gw.url + CHAT, { method: 'POST' });
  await expectError(t, res, 400, 'invalid_json');
  await stillServes(t);
});

t.test('non-JSON content types are 415', async (t) => {
  const cases: [string, string][] = [
    ['text/plain', '{"model":"demo","messages":[{"role":"user","content":"x"}]}'],
    ['application/x-www-form-urlencoded', 'model=demo&messages=hi'],
  ];
  for (const [type, body] of cases) {
    await expectError(t, await post(body, { 'content-type': type }), 415, 'unsupported_media_type');
  }
  await stillServes(t);
});

t.test('a body over server.body_limit with content-length is 413 request_too_large', async (t) => {
  const big = JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: 'x'.repeat(64 * 1024) }] });
  await expectError(t, await post(big), 413, 'request_too_large');
  t.equal(upstream.requests.length, 0);
  await stillServes(t);
});

t.test('a chunked body over server.body_limit is 413 request_too_large', async (t) => {
  const piece = new TextEncoder().encode(' '.repeat(8192));
  let sent = 0;
  // A stream body has no content-length, so fetch sends it with chunked transfer encoding.
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent === 0) controller.enqueue(new TextEncoder().encode('{"model":"demo","messages":[],"pad":"'));
      if (sent++ < 8) controller.enqueue(piece);
      else controller.close();
    },
  });
  const res = await fetch(gw.url + CHAT, { method: 'POST', headers: JSON_HEADERS, body, duplex: 'half' } as RequestInit);
  await expectError(t, res, 413, 'request_too_large');
  await stillServes(t);
});

t.test('missing or wrongly typed fields are 400 naming the param', async (t) => {
  const user = [{ role: 'user', content: 'hi' }];
  const cases: [string, Record<string, unknown>, string, string][] = [
    ['missing messages', { model: 'demo' }, 'invalid_request_body', 'messages'],
    ['missing model, no default', { messages: user }, 'missing_model', 'model'],
    ['messages is a string', { model: 'demo', messages: 'hi' }, 'invalid_request_body', 'messages'],
    ['stream is a string', { model: 'demo', messages: user, stream: 'yes' }, 'invalid_request_body', 'stream'],
    ['temperature is a string', { model: 'demo', messages: user, temperature: 'hot' }, 'invalid_request_body', 'temperature'],
    ['n is fractional', { model: 'demo', messages: user, n: 1.5 }, 'invalid_request_body', 'n'],
    ['message without role', { model: 'demo', messages: [{ content: 'hi' }] }, 'invalid_request_body', 'messages[0].role'],
  ];
  for (const [name, body, code, param] of cases) {
    await t.test(name, async (t) => {
      const error = await expectError(t, await postJson(body), 400, code, param);
      t.ok((error['message'] as string).includes(`'${param}'`), 'message names the param');
    });
  }
  t.equal(upstream.requests.length, 0, 'nothing reached the upstream');
  await stillServes(t);
});

t.test('a message missing what its role needs is 400 naming the field (OpenAI message variants)', async (t) => {
  const user = { role: 'user', content: 'hi' };
  const call = { id: 'call_1', type: 'function', function: { name: 'f', arguments: '{}' } };
  const cases: [string, unknown[], string][] = [
    ['user message without content', [{ role: 'user' }], 'messages[0].content'],
    ['user message with null content', [{ role: 'user', content: null }], 'messages[0].content'],
    ['user message with an empty list of parts', [{ role: 'user', content: [] }], 'messages[0].content'],
    ['system message without content', [{ role: 'system' }, user], 'messages[0].content'],
    ['developer message without content', [{ role: 'developer' }, user], 'messages[0].content'],
    ['assistant message with neither content nor tool calls', [user, { role: 'assistant' }, user], 'messages[1].content'],
    ['assistant message with null content and no tool calls', [user, { role: 'assistant', content: null, tool_calls: [] }, user], 'messages[1].content'],
    ['tool message without tool_call_id', [user, { role: 'assistant', tool_calls: [call] }, { role: 'tool', content: 'x' }], 'messages[2].tool_call_id'],
    ['tool message without content', [user, { role: 'assistant', tool_calls: [call] }, { role: 'tool', tool_call_id: 'call_1' }], 'messages[2].content'],
    ['function message without name', [user, { role: 'function', content: 'x' }], 'messages[1].name'],
    ['text part without text', [{ role: 'user', content: [{ type: 'text' }] }], 'messages[0].content[0].text'],
    ['content part without type', [{ role: 'user', content: [{ text: 'hi' }] }], 'messages[0].content[0].type'],
  ];
  for (const [name, messages, param] of cases) {
    await t.test(name, async (t) => {
      const error = await expectError(t, await postJson({ model: 'gpt-4o-mini', messages }), 400, 'invalid_request_body', param);
      t.ok((error['message'] as string).includes(`'${param}'`), 'message names the param');
    });
  }
  t.equal(upstream.requests.length, 0, 'nothing reached the upstream');

  const valid = [user, { role: 'assistant', content: null, tool_calls: [call] }, { role: 'tool', tool_call_id: 'call_1', content: '{}' }, { role: 'assistant', content: null, refusal: 'No.' }, user];
  const ok = await postJson({ model: 'gpt-4o-mini', messages: valid });
  t.equal(ok.status, 200, 'an assistant message may leave content out when it carries tool calls or a refusal');
  t.same(upstream.requests[0]?.body?.['messages'], valid, 'and reaches the upstream as sent');
  await stillServes(t);
});

t.test('numbers that are not finite (1e999 parses to Infinity) are 400 naming the field', async (t) => {
  const messages = '[{"role":"user","content":"hi"}]';
  const cases: [string, string, string][] = [
    [CHAT, `{"model":"gpt-4o-mini","messages":${messages},"max_tokens":1e999}`, 'max_tokens'],
    [CHAT, `{"model":"gpt-4o-mini","messages":${messages},"max_completion_tokens":1e999}`, 'max_completion_tokens'],
    [CHAT, `{"model":"gpt-4o-mini","messages":${messages},"temperature":-1e999}`, 'temperature'],
    [CHAT, `{"model":"gpt-4o-mini","messages":${messages},"top_p":1e999}`, 'top_p'],
    [CHAT, `{"model":"gpt-4o-mini","messages":${messages},"n":1e999}`, 'n'],
    [CHAT, `{"model":"gpt-4o-mini","messages":${messages},"presence_penalty":-1e999}`, 'presence_penalty'],
    [CHAT, `{"model":"gpt-4o-mini","messages":${messages},"seed":1e999}`, 'seed'],
    ['/v1/completions', '{"model":"gpt-3.5-turbo-instruct","prompt":"hi","max_tokens":1e999}', 'max_tokens'],
    ['/v1/embeddings', '{"model":"text-embedding-3-small","input":"hi","dimensions":1e999}', 'dimensions'],
    ['/v1/images/generations', '{"model":"dall-e-3","prompt":"a cat","n":1e999}', 'n'],
  ];
  for (const [path, raw, param] of cases) {
    await t.test(`${path} ${param}`, async (t) => {
      const error = await expectError(t, await post(raw, JSON_HEADERS, path), 400, 'invalid_request_body', param);
      t.equal(error['message'], `Invalid value for '${param}': must be a finite number.`);
    });
  }
  t.equal(upstream.requests.length, 0, 'nothing reached the upstream');
  await stillServes(t);
});

t.test('an unknown content part type reaches an OpenAI-compatible upstream untouched', async (t) => {
  const messages = [{ role: 'user', content: [{ type: 'text', text: 'hi' }, { type: 'x_future_part', x_future_part: { data: [1, 2], note: null } }] }];
  const res = await postJson({ model: 'gpt-4o-mini', messages });
  t.equal(res.status, 200);
  t.equal(upstream.requests.length, 1);
  t.same(upstream.requests[0]!.body!['messages'], messages);
});

t.test('the mock adapter refuses a content part type OpenAI does not define, naming the part', async (t) => {
  const messages = [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'hello' }, { role: 'user', content: [{ type: 'text', text: 'and' }, { type: 'x_future_part' }] }];
  const error = await expectError(t, await postJson({ model: 'demo', messages }), 400, 'unsupported_parameter', 'messages[2].content[1]');
  t.equal(error['message'], "Provider 'demo' cannot take content parts of type 'x_future_part'.");
  const image = { type: 'image_url', image_url: { url: 'https://example.com/a.png' } };
  const ok = await postJson({ model: 'demo', messages: [{ role: 'user', content: [{ type: 'text', text: 'echo me' }, image] }] });
  t.equal(ok.status, 200, 'parts OpenAI defines are taken (the mock answers from the text)');
  t.equal(((await ok.json()) as { choices: { message: { content: string } }[] }).choices[0]!.message.content, 'echo me');
});

t.test('__proto__ and constructor.prototype keys are 400 and pollute nothing', async (t) => {
  const bodies = [
    '{"model":"demo","messages":[{"role":"user","content":"x"}],"__proto__":{"polluted":"top"}}',
    '{"model":"demo","messages":[{"role":"user","content":"x","__proto__":{"polluted":"nested"}}]}',
    '{"model":"demo","messages":[{"role":"user","content":"x"}],"constructor":{"prototype":{"polluted":"ctor"}}}',
    // The same keys spelled with JSON escapes.
    '{"model":"demo","messages":[{"role":"user","content":"x"}],"\\u005f_proto__":{"polluted":"escaped"}}',
    '{"model":"demo","messages":[{"role":"user","content":"x"}],"constructor":{"prototyp\\u0065":{"polluted":"escaped"}}}',
  ];
  for (const raw of bodies) {
    await expectError(t, await post(raw), 400, 'invalid_json');
  }
  t.equal(({} as Record<string, unknown>)['polluted'], undefined, 'Object.prototype is untouched');
  t.equal(upstream.requests.length, 0);
  await stillServes(t);
});

t.test('JSON nested deeper than the gateway accepts is 400, not a stack overflow', async (t) => {
  const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
  for (const model of ['demo', 'gpt-4o-mini']) {
    // 10 000 levels is a 20 KB body: small, but deep enough to overflow a recursive JSON.stringify.
    const raw = `{"model":"${model}","messages":[{"role":"user","content":"x"}],"foo_custom":${nested(10_000)}}`;
    const error = await expectError(t, await post(raw), 400, 'invalid_json');
    t.match(error['message'], /nested deeper/);
  }
  t.equal(upstream.requests.length, 0, 'nothing reached the upstream');
  const ok = await post(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"x"}],"foo_custom":${nested(100)}}`);
  t.equal(ok.status, 200, 'realistic nesting still passes');
  t.equal(upstream.requests[0]?.raw.includes(nested(100)), true, 'and reaches the upstream intact');
  await stillServes(t);
});

t.test('a body that is not UTF-8 is 400 invalid_encoding', async (t) => {
  await expectError(t, await post(Buffer.from([0x7b, 0xff, 0xfe, 0x7d])), 400, 'invalid_encoding');
  await stillServes(t);
});

t.test('an unknown URL is 404 unknown_url', async (t) => {
  await expectError(t, await fetch(`${gw.url}/v1/not-a-thing`), 404, 'unknown_url');
  await expectError(t, await post('{}', JSON_HEADERS, '/v2/chat/completions'), 404, 'unknown_url');
  await stillServes(t);
});

t.test('a model id in the URL that is not valid percent-encoding is 400 naming model', async (t) => {
  await expectError(t, await fetch(`${gw.url}/v1/models/bad%E0%A4`), 400, 'invalid_path', 'model');
  await stillServes(t);
});

t.test('the wrong method on a known path is 405 with an allow header', async (t) => {
  const res = await fetch(gw.url + CHAT);
  t.equal(res.headers.get('allow'), 'POST');
  await expectError(t, res, 405, 'method_not_allowed');
  const models = await fetch(`${gw.url}/v1/models`, { method: 'DELETE' });
  t.equal(models.headers.get('allow'), 'GET');
  await expectError(t, models, 405, 'method_not_allowed');
  await stillServes(t);
});

t.test('unknown but well-formed fields reach the upstream untouched', async (t) => {
  const extra = { foo_custom: { a: 1, nested: [true, null, 'x'] }, logit_bias: { '50256': -100, '15496': 5 } };
  const res = await postJson({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], ...extra });
  t.equal(res.status, 200);
  t.equal(upstream.requests.length, 1);
  const sent = upstream.requests[0]!.body!;
  t.same(sent['foo_custom'], extra.foo_custom);
  t.same(sent['logit_bias'], extra.logit_bias);
});

t.test('a well-formed x-request-id is echoed, in the header and in error bodies', async (t) => {
  const id = 'req_abc-123.def:9';
  const ok = await fetch(`${gw.url}/v1/models`, { headers: { 'x-request-id': id } });
  t.equal(ok.status, 200);
  t.equal(ok.headers.get('x-request-id'), id);
  const bad = await post('{', { ...JSON_HEADERS, 'x-request-id': id });
  const error = await expectError(t, bad, 400, 'invalid_json');
  t.equal(error['request_id'], id);
});

t.test('a garbage x-request-id is replaced by a generated one', async (t) => {
  for (const garbage of ['has spaces in it', 'x'.repeat(500), 'semi;colon', '']) {
    const res = await fetch(`${gw.url}/v1/models`, { headers: { 'x-request-id': garbage } });
    t.equal(res.status, 200);
    const id = res.headers.get('x-request-id');
    t.not(id, garbage);
    t.match(id, /^[0-9a-f-]{36}$/, 'a generated UUID');
  }
  await stillServes(t);
});

t.test('no hostile request produced an error-level log line', async (t) => {
  t.same(
    gw.logs.filter((l) => l['level'] === 'error' || l['level'] === 'fatal'),
    [],
  );
});
