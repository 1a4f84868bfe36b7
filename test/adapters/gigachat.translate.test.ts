/**
 * `gigachat` request translation (OpenAI request → GigaChat `POST /chat/completions` and
 * `/embeddings` bodies), per https://developers.sber.ru/docs/ru/gigachat/api/reference/rest/post-chat.
 * buildRequest only; the one network peer is the loopback token endpoint it needs.
 */
import t, { type Test } from 'tap';
import type { GatewayError } from '../../core/errors.js';
import type { HttpAdapter } from '../../plugins/route/adapter.js';
import { chatOp, makeGigachat } from './gigachat-adapter.js';
import { expectRejection, sentBodyAsync as sentBody } from './harness.js';

const rejects = (t: Test, adapter: HttpAdapter, body: Record<string, unknown>, code: string, param: string) => expectRejection(t, sentBody(adapter, chatOp(body)), 400, code, param);

const weather = { type: 'function', function: { name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } };
const call = (id: string, city: string) => ({ id, type: 'function', function: { name: 'get_weather', arguments: JSON.stringify({ city }) } });

t.test('request line and headers', async (t) => {
  const { adapter, auth } = await makeGigachat(t, { base_url: 'http://127.0.0.1:9/api/v1/', headers: { 'X-Session-ID': 'conv-7', 'X-Team': 'blue' } });
  const req = await adapter.buildRequest(chatOp({ user: 'user-42' }, { stream: true, headers: { 'x-extra': 'yes', 'x-team': null, authorization: 'Bearer hijack' } }));
  t.equal(req.url, 'http://127.0.0.1:9/api/v1/chat/completions');
  t.equal(req.method, 'POST');
  t.match(req.headers, { 'content-type': 'application/json', accept: 'text/event-stream', 'x-request-id': 'req-1', 'x-client-id': 'user-42', 'x-session-id': 'conv-7', 'x-extra': 'yes' });
  t.notOk('x-team' in req.headers, 'a transform plugin can remove a configured header');
  t.equal(req.headers['authorization'], `Bearer ${[...auth.valid][0]}`, "the adapter's own token wins");
  t.equal(JSON.parse(String(req.body))['stream'], true);
  const embed = await adapter.buildRequest({ ...chatOp({ input: ['a'] }), endpoint: 'embeddings', model: 'Embeddings' });
  t.equal(embed.url, 'http://127.0.0.1:9/api/v1/embeddings');
  t.equal(embed.headers['accept'], 'application/json');
  t.ok(adapter.supports('chat.completions') && adapter.supports('embeddings'));
  t.notOk(adapter.supports('completions') || adapter.supports('images.generations'));
});

t.test('system and developer messages become one system message, first', async (t) => {
  const { adapter } = await makeGigachat(t);
  const b = await sentBody(adapter, chatOp({ messages: [{ role: 'user', content: 'Hi' }, { role: 'system', content: 'Be brief.' }, { role: 'developer', content: [{ type: 'text', text: 'Use Russian.' }] }, { role: 'assistant', content: 'Hello' }, { role: 'user', content: [{ type: 'text', text: 'Again' }] }] }));
  t.same(b['messages'], [
    { role: 'system', content: 'Be brief.\n\nUse Russian.' },
    { role: 'user', content: 'Hi' },
    { role: 'assistant', content: 'Hello' },
    { role: 'user', content: 'Again' },
  ]);
  t.same(b, { model: 'GigaChat-2-Max', messages: b['messages'] }, 'nothing else is sent by default');
});

t.test('images and files are refused: GigaChat needs them uploaded to its storage first', async (t) => {
  const { adapter, auth } = await makeGigachat(t);
  const err = await rejects(t, adapter, { messages: [{ role: 'user', content: [{ type: 'text', text: 'What is it?' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } }] }] }, 'unsupported_parameter', 'messages[0].content[1]');
  t.match(err.message, /uploaded/);
  await rejects(t, adapter, { messages: [{ role: 'user', content: [{ type: 'file', file: { file_id: 'f1' } }] }] }, 'unsupported_parameter', 'messages[0].content[0]');
  t.equal(auth.calls.length, 0, 'no token fetched for a request that cannot be sent');
});

t.test('a content part, message field or tool call GigaChat cannot take is a 400 naming it, never dropped', async (t) => {
  const { adapter } = await makeGigachat(t);
  const user = { role: 'user', content: 'Hi' };
  const audio = await rejects(t, adapter, { messages: [{ role: 'system', content: 'Be brief.' }, user, { role: 'user', content: [{ type: 'text', text: 'Listen' }, { type: 'input_audio', input_audio: { data: 'AAA', format: 'wav' } }] }] }, 'unsupported_parameter', 'messages[2].content[1]');
  t.match(audio.message, "Provider 'giga' cannot take content parts of type 'input_audio'");
  await rejects(t, adapter, { messages: [{ role: 'user', content: [{ type: 'x_future_part' }] }] }, 'unsupported_parameter', 'messages[0].content[0]');
  const image = { type: 'image_url', image_url: { url: 'https://example.com/a.png' } };
  await rejects(t, adapter, { messages: [{ role: 'system', content: [{ type: 'text', text: 'Look:' }, image] }, user] }, 'unsupported_parameter', 'messages[0].content[1]');
  await rejects(t, adapter, { messages: [user, { role: 'assistant', content: [image] }] }, 'unsupported_parameter', 'messages[1].content[0]');
  await rejects(t, adapter, { messages: [user, { role: 'assistant', tool_calls: [call('c1', 'Paris')] }, { role: 'tool', tool_call_id: 'c1', content: [image] }] }, 'unsupported_parameter', 'messages[2].content[0]');
  await rejects(t, adapter, { messages: [user, { role: 'assistant', audio: { id: 'audio_1' } }] }, 'unsupported_parameter', 'messages[1].audio');
  await rejects(t, adapter, { messages: [user, { role: 'assistant', function_call: { name: 'f', arguments: '{}' } }] }, 'unsupported_parameter', 'messages[1].function_call');
  await rejects(t, adapter, { messages: [user, { role: 'assistant', tool_calls: [{ id: 'c1', type: 'custom', custom: { name: 'x', input: 'y' } }] }] }, 'unsupported_parameter', 'messages[1].tool_calls[0]');
});

t.test("an assistant turn's refusal is kept as its text; a participant name follows unsupported_params", async (t) => {
  const { adapter, logs } = await makeGigachat(t);
  const b = await sentBody(adapter, chatOp({ messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: null, refusal: 'No.' }, { role: 'user', name: 'alice', content: 'Why?' }] }));
  t.same(b['messages'], [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'No.' }, { role: 'user', content: 'Why?' }]);
  t.match(logs.find((l) => l['msg'] === 'dropped request fields the provider cannot honour'), { dropped: ['messages[2].name'] });
  const strict = await makeGigachat(t, { unsupported_params: 'reject' });
  await rejects(t, strict.adapter, { messages: [{ role: 'user', name: 'alice', content: 'Hi' }] }, 'unsupported_parameter', 'messages[0].name');
});

t.test('tools become functions; tool_choice becomes function_call', async (t) => {
  const { adapter } = await makeGigachat(t);
  const b = await sentBody(adapter, chatOp({ tools: [weather, { type: 'function', function: { name: 'now' } }] }));
  t.same(b['functions'], [
    { name: 'get_weather', description: 'Weather', parameters: weather.function.parameters },
    { name: 'now', parameters: { type: 'object', properties: {} } },
  ], 'a function without parameters gets an empty object schema (GigaChat requires one)');
  t.equal(b['function_call'], 'auto', 'OpenAI defaults to auto when tools are given');
  t.equal((await sentBody(adapter, chatOp({ tools: [weather], tool_choice: 'none' })))['function_call'], 'none');
  t.same((await sentBody(adapter, chatOp({ tools: [weather], tool_choice: { type: 'function', function: { name: 'get_weather' } } })))['function_call'], { name: 'get_weather' });
  t.notOk('function_call' in (await sentBody(adapter, chatOp({ tool_choice: 'none' }))), "'none' without tools is harmless");
  await rejects(t, adapter, { tool_choice: 'auto' }, 'invalid_value', 'tool_choice');
  await rejects(t, adapter, { tools: [weather], tool_choice: 'sometimes' }, 'invalid_value', 'tool_choice');
  await rejects(t, adapter, { tools: [{ type: 'web_search' }] }, 'unsupported_parameter', 'tools');
  t.notOk('parallel_tool_calls' in (await sentBody(adapter, chatOp({ tools: [weather], parallel_tool_calls: false }))), 'one call per answer already honours false');
});

t.test("tool_choice 'required': auto when dropping, 400 when rejecting", async (t) => {
  const { adapter, logs } = await makeGigachat(t);
  t.equal((await sentBody(adapter, chatOp({ tools: [weather], tool_choice: 'required' })))['function_call'], 'auto');
  t.match(logs.find((l) => l['msg'] === 'dropped request fields the provider cannot honour'), { dropped: ['tool_choice'] });
  const strict = await makeGigachat(t, { unsupported_params: 'reject' });
  await rejects(t, strict.adapter, { tools: [weather], tool_choice: 'required' }, 'unsupported_parameter', 'tool_choice');
});

t.test('parallel tool calls are replayed one by one, each followed by its result', async (t) => {
  const { adapter } = await makeGigachat(t);
  const b = await sentBody(adapter, chatOp({
    messages: [
      { role: 'user', content: 'Paris and Oslo?' },
      { role: 'assistant', content: 'Checking.', tool_calls: [call('c1', 'Paris'), call('c2', 'Oslo')] },
      { role: 'tool', tool_call_id: 'c2', content: 'snow' },
      { role: 'tool', tool_call_id: 'c1', content: [{ type: 'text', text: '{"temp":21}' }] },
      { role: 'assistant', content: 'Sunny and snowy.' },
    ],
  }));
  t.same(b['messages'], [
    { role: 'user', content: 'Paris and Oslo?' },
    { role: 'assistant', content: 'Checking.', function_call: { name: 'get_weather', arguments: { city: 'Paris' } } },
    { role: 'function', name: 'get_weather', content: '{"temp":21}' },
    { role: 'assistant', content: '', function_call: { name: 'get_weather', arguments: { city: 'Oslo' } } },
    { role: 'function', name: 'get_weather', content: '{"result":"snow"}' },
    { role: 'assistant', content: 'Sunny and snowy.' },
  ], 'results paired by id, non-object results wrapped as {"result": …}');
});

t.test('tool turns GigaChat cannot take are 400s', async (t) => {
  const { adapter } = await makeGigachat(t);
  const base = [{ role: 'user', content: 'Weather?' }];
  await rejects(t, adapter, { messages: [...base, { role: 'assistant', tool_calls: [call('c1', 'Paris')] }] }, 'invalid_value', 'messages');
  await rejects(t, adapter, { messages: [...base, { role: 'assistant', tool_calls: [call('c1', 'Paris')] }, { role: 'tool', tool_call_id: 'c1', content: '{}' }, { role: 'tool', tool_call_id: 'c9', content: '{}' }] }, 'invalid_value', 'messages');
  await rejects(t, adapter, { messages: [...base, { role: 'tool', tool_call_id: 'c1', content: '{}' }] }, 'invalid_value', 'messages');
  const badArgs = { id: 'c1', type: 'function', function: { name: 'get_weather', arguments: '[1,2]' } };
  await rejects(t, adapter, { messages: [...base, { role: 'assistant', tool_calls: [badArgs] }, { role: 'tool', tool_call_id: 'c1', content: '{}' }] }, 'invalid_value', 'messages');
  await rejects(t, adapter, { messages: [] }, 'invalid_value', 'messages');
  await rejects(t, adapter, { messages: [{ role: 'function', name: 'f', content: '{}' }] }, 'unsupported_parameter', 'messages[0].role');
});

t.test('sampling parameters, token limits and GigaChat-only repetition_penalty', async (t) => {
  const { adapter } = await makeGigachat(t);
  const b = await sentBody(adapter, chatOp({ temperature: 0.3, top_p: 0.9, max_tokens: 100, max_completion_tokens: 200, repetition_penalty: 1.1, n: 1, stream_options: { include_usage: true } }));
  t.match(b, { temperature: 0.3, top_p: 0.9, max_tokens: 200, repetition_penalty: 1.1 });
  t.notOk('n' in b || 'stream_options' in b || 'max_completion_tokens' in b);
  const n = await rejects(t, adapter, { n: 2 }, 'unsupported_parameter', 'n');
  t.match(n.message, /one choice/);
});

t.test('unsupported parameters: dropped and logged, or rejected', async (t) => {
  const { adapter, logs } = await makeGigachat(t);
  const b = await sentBody(adapter, chatOp({ stop: ['\n'], seed: 7, logprobs: true, presence_penalty: 0.5 }));
  t.notOk('stop' in b || 'seed' in b || 'logprobs' in b || 'presence_penalty' in b);
  t.match(logs.find((l) => l['msg'] === 'dropped request fields the provider cannot honour'), { provider: 'giga', request_id: 'req-1', dropped: ['stop', 'seed', 'logprobs', 'presence_penalty'] });
  const strict = await makeGigachat(t, { unsupported_params: 'reject' });
  const err = await rejects(t, strict.adapter, { stop: 'END' }, 'unsupported_parameter', 'stop');
  t.match(err.message, /unsupported_params: drop/);
});

t.test('response_format: json_schema is sent in GigaChat terms, json_object dropped or rejected', async (t) => {
  const { adapter } = await makeGigachat(t);
  const schema = { type: 'object', properties: { answer: { type: 'string' } }, required: ['answer'] };
  const b = await sentBody(adapter, chatOp({ response_format: { type: 'json_schema', json_schema: { name: 'answer', schema, strict: true } } }));
  t.same(b['response_format'], { type: 'json_schema', schema, strict: true });
  t.notOk('response_format' in (await sentBody(adapter, chatOp({ response_format: { type: 'text' } }))));
  t.notOk('response_format' in (await sentBody(adapter, chatOp({ response_format: { type: 'json_object' } }))));
  await rejects(t, adapter, { response_format: { type: 'json_schema', json_schema: { name: 'x' } } }, 'invalid_value', 'response_format');
  const strict = await makeGigachat(t, { unsupported_params: 'reject' });
  await rejects(t, strict.adapter, { response_format: { type: 'json_object' } }, 'unsupported_parameter', 'response_format');
});

t.test('embeddings: texts in a list; dimensions and token arrays refused', async (t) => {
  const { adapter } = await makeGigachat(t);
  const op = (body: Record<string, unknown>) => ({ ...chatOp({}), endpoint: 'embeddings' as const, model: 'EmbeddingsGigaR', body });
  t.same(await sentBody(adapter, op({ input: 'один', encoding_format: 'base64', user: 'u1' })), { model: 'EmbeddingsGigaR', input: ['один'] });
  t.same(await sentBody(adapter, op({ input: ['a', 'b'], dimensions: 64 })), { model: 'EmbeddingsGigaR', input: ['a', 'b'] }, 'dimensions dropped');
  const err = (await sentBody(adapter, op({ input: [[1, 2, 3]] })).catch((e: unknown) => e)) as GatewayError;
  t.equal(err.status, 400);
  t.equal(err.param, 'input');
  const strict = await makeGigachat(t, { unsupported_params: 'reject' });
  const dims = (await sentBody(strict.adapter, op({ input: 'a', dimensions: 64 })).catch((e: unknown) => e)) as GatewayError;
  t.equal(dims.code, 'unsupported_parameter');
});

t.test('settings: credentials, or client_id with client_secret', async (t) => {
  const { validateAt } = await import('../../core/config/schema.js');
  const { default: gigachat } = await import('../../plugins/route/providers/gigachat/index.js');
  t.ok(validateAt(gigachat.schema, {}, ['$']).length > 0, 'some credential is required');
  t.ok(validateAt(gigachat.schema, { client_id: 'id' }, ['$']).length > 0, 'a client id alone is not enough');
  t.same(validateAt(gigachat.schema, { client_id: 'id', client_secret: 's' }, ['$']), []);
  t.ok(validateAt(gigachat.schema, { credentials: 'k', scope: 'GIGACHAT_API_X' }, ['$']).length > 0, 'scope is one of the three');
  const config: Record<string, unknown> = { credentials: 'k' };
  validateAt(gigachat.schema, config, ['$']);
  t.match(config, { base_url: 'https://gigachat.devices.sberbank.ru/api/v1', auth_url: 'https://ngw.devices.sberbank.ru:9443/api/v2/oauth', scope: 'GIGACHAT_API_PERS', token_refresh_margin: '60s' });
});
