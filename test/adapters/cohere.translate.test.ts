/**
 * `cohere` request translation (OpenAI request → Cohere API v2 request), per
 * https://docs.cohere.com/v2/reference/chat and https://docs.cohere.com/v2/reference/embed.
 * Pure: buildRequest only, no network.
 */
import t, { type Test } from 'tap';
import { cohereOp, makeCohere } from './cohere-adapter.js';
import { assertServes, built, expectError, sentBody } from './harness.js';

const { adapter } = makeCohere();
const body = (b: Record<string, unknown>) => sentBody(adapter, cohereOp(b));
const rejects = (t: Test, run: () => unknown, code: string, param: string) => expectError(t, run, 400, code, param);
const weather = { type: 'function', function: { name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } } } } };
const time = { type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: {} } } };

t.test('request line and headers', async (t) => {
  const { adapter } = makeCohere({ base_url: 'http://127.0.0.1:9/', headers: { 'X-Client-Name': 'switchyard', 'X-Team': 'blue' } });
  const req = built(adapter, cohereOp({}, { stream: true, headers: { 'x-extra': 'yes', 'x-team': null } }));
  t.equal(req.url, 'http://127.0.0.1:9/v2/chat');
  t.equal(req.method, 'POST');
  t.match(req.headers, { authorization: 'Bearer co-test-key-0123456789', 'content-type': 'application/json', accept: 'text/event-stream', 'x-client-name': 'switchyard', 'x-extra': 'yes', 'x-request-id': 'req-1' });
  t.notOk('x-team' in req.headers, 'a transform plugin can remove a configured header');
  t.equal(JSON.parse(String(req.body))['stream'], true);
  t.equal(built(makeCohere().adapter, cohereOp({})).url, 'https://api.cohere.com/v2/chat', 'default base_url');
  t.equal(built(adapter, cohereOp({ input: 'x' }, { endpoint: 'embeddings' })).url, 'http://127.0.0.1:9/v2/embed');
  t.equal(built(adapter, cohereOp({})).headers['accept'], 'application/json');
  t.notOk('stream' in body({}), 'no stream key unless streaming');
});

t.test('serves chat completions and embeddings only', async (t) => {
  assertServes(t, adapter, ['chat.completions', 'embeddings']);
});

t.test('system and developer messages are joined into one leading system message', async (t) => {
  const b = body({ messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }, { role: 'developer', content: [{ type: 'text', text: 'Use French.' }] }] });
  t.same(b['messages'], [
    { role: 'system', content: 'Be brief.\n\nUse French.' },
    { role: 'user', content: 'Hi' },
  ]);
  t.same(body({})['messages'], [{ role: 'user', content: 'Hi' }], 'no system message without system content');
});

t.test('user content: text stays a string, parts become text and image_url parts', async (t) => {
  const b = body({
    messages: [
      {
        role: 'user',
        content: [
          { type: 'text', text: 'What is this?' },
          { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=', detail: 'high' } },
          { type: 'image_url', image_url: { url: 'https://cohere.com/favicon-32x32.png' } },
        ],
      },
    ],
  });
  t.same(b['messages'], [
    {
      role: 'user',
      content: [
        { type: 'text', text: 'What is this?' },
        { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=', detail: 'high' } },
        { type: 'image_url', image_url: { url: 'https://cohere.com/favicon-32x32.png' } },
      ],
    },
  ]);
  rejects(t, () => body({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: {} }] }] }), 'invalid_value', 'messages');
  rejects(t, () => body({ messages: [{ role: 'function', name: 'f', content: 'x' }] }), 'unsupported_parameter', 'messages[0].role');
});

t.test('a content part, message field or tool call Cohere cannot take is a 400 naming it, never dropped', async (t) => {
  const user = { role: 'user', content: 'Hi' };
  const audio = rejects(t, () => body({ messages: [{ role: 'system', content: 'Be brief.' }, user, { role: 'user', content: [{ type: 'text', text: 'Listen' }, { type: 'input_audio', input_audio: { data: 'x', format: 'wav' } }] }] }), 'unsupported_parameter', 'messages[2].content[1]');
  t.match(audio.message, "Provider 'co' cannot take content parts of type 'input_audio'");
  rejects(t, () => body({ messages: [{ role: 'user', content: [{ type: 'x_future_part' }] }] }), 'unsupported_parameter', 'messages[0].content[0]');
  const image = { type: 'image_url', image_url: { url: 'https://example.com/a.png' } };
  rejects(t, () => body({ messages: [{ role: 'developer', content: [{ type: 'text', text: 'Look:' }, image] }, user] }), 'unsupported_parameter', 'messages[0].content[1]');
  rejects(t, () => body({ messages: [user, { role: 'assistant', content: [image] }] }), 'unsupported_parameter', 'messages[1].content[0]');
  const toolTurn = { role: 'assistant', tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }] };
  rejects(t, () => body({ messages: [user, toolTurn, { role: 'tool', tool_call_id: 'c1', content: [image] }] }), 'unsupported_parameter', 'messages[2].content[0]');
  rejects(t, () => body({ messages: [user, { role: 'assistant', audio: { id: 'audio_1' } }] }), 'unsupported_parameter', 'messages[1].audio');
  rejects(t, () => body({ messages: [user, { role: 'assistant', function_call: { name: 'f', arguments: '{}' } }] }), 'unsupported_parameter', 'messages[1].function_call');
  rejects(t, () => body({ messages: [user, { role: 'assistant', tool_calls: [{ id: 'c1', type: 'custom', custom: { name: 'x', input: 'y' } }] }] }), 'unsupported_parameter', 'messages[1].tool_calls[0]');
});

t.test("an assistant turn's refusal is kept as its text; a participant name follows unsupported_params", async (t) => {
  const b = body({ messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: null, refusal: 'No.' }] });
  t.same(b['messages'], [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'No.' }]);
  const dropping = makeCohere();
  t.same(sentBody(dropping.adapter, cohereOp({ messages: [{ role: 'user', name: 'alice', content: 'Hi' }] }))['messages'], [{ role: 'user', content: 'Hi' }]);
  t.match(dropping.logs.find((l) => l['msg'] === 'dropped request fields the provider cannot honour'), { dropped: ['messages[0].name'] });
  rejects(t, () => sentBody(makeCohere({ unsupported_params: 'reject' }).adapter, cohereOp({ messages: [{ role: 'user', name: 'alice', content: 'Hi' }] })), 'unsupported_parameter', 'messages[0].name');
});

t.test('assistant turns: text next to tool calls becomes tool_plan; empty turns are left out; tool results keep their ids', async (t) => {
  const b = body({
    messages: [
      { role: 'user', content: 'Weather and time?' },
      { role: 'assistant', content: 'I will look both up.', tool_calls: [{ id: 'c1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }, { id: 'c2', type: 'function', function: { name: 'get_time', arguments: '' } }] },
      { role: 'tool', tool_call_id: 'c1', content: [{ type: 'text', text: '{"temp":21}' }] },
      { role: 'tool', tool_call_id: 'c2', content: '12:00' },
      { role: 'assistant', content: '' },
      { role: 'assistant', content: [{ type: 'refusal', refusal: 'No.' }] },
    ],
  });
  t.same(b['messages'], [
    { role: 'user', content: 'Weather and time?' },
    {
      role: 'assistant',
      tool_plan: 'I will look both up.',
      tool_calls: [
        { id: 'c1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
        { id: 'c2', type: 'function', function: { name: 'get_time', arguments: '{}' } },
      ],
    },
    { role: 'tool', tool_call_id: 'c1', content: '{"temp":21}' },
    { role: 'tool', tool_call_id: 'c2', content: '12:00' },
    { role: 'assistant', content: 'No.' },
  ]);
});

t.test('sampling and length parameters', async (t) => {
  const b = body({ temperature: 0.7, top_p: 0.9, max_tokens: 10, max_completion_tokens: 20, seed: 7, frequency_penalty: 0.1, presence_penalty: 0.2, stop: ['END', '##'] });
  t.same(b, { model: 'command-a-03-2025', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 20, temperature: 0.7, seed: 7, frequency_penalty: 0.1, presence_penalty: 0.2, p: 0.9, stop_sequences: ['END', '##'] });
  t.equal(body({ top_p: 1 })['p'], 0.99, 'top_p 1 (no cut) is the largest p Cohere takes');
  t.equal(body({ max_tokens: 5 })['max_tokens'], 5);
  t.same(body({ stop: 'END' })['stop_sequences'], ['END']);
  t.notOk('stop_sequences' in body({ stop: [] }));
});

t.test('n > 1 is always rejected; n = 1 is fine', async (t) => {
  rejects(t, () => body({ n: 2 }), 'unsupported_parameter', 'n');
  t.notOk('n' in body({ n: 1 }));
});

t.test('tools and tool_choice', async (t) => {
  const auto = body({ tools: [weather], tool_choice: 'auto' });
  t.same(auto['tools'], [weather]);
  t.notOk('tool_choice' in auto, 'auto is Cohere’s default');
  t.notOk('strict_tools' in auto);
  t.equal(body({ tools: [weather], tool_choice: 'none' })['tool_choice'], 'NONE');
  t.equal(body({ tools: [weather], tool_choice: 'required' })['tool_choice'], 'REQUIRED');

  const forced = body({ tools: [weather, time], tool_choice: { type: 'function', function: { name: 'get_time' } } });
  t.same(forced['tools'], [time], 'a named function is the only tool offered…');
  t.equal(forced['tool_choice'], 'REQUIRED', '…and a call is required');
  rejects(t, () => body({ tools: [weather], tool_choice: { type: 'function', function: { name: 'nope' } } }), 'invalid_value', 'tool_choice');
  rejects(t, () => body({ tool_choice: 'required' }), 'invalid_value', 'tool_choice');
  t.notOk('tool_choice' in body({ tool_choice: 'none' }), 'none without tools needs nothing');

  const strictOf = (a: boolean, b: boolean) => body({ tools: [{ ...weather, function: { ...weather.function, strict: a } }, { ...time, function: { ...time.function, strict: b } }] })['strict_tools'];
  t.equal(strictOf(true, true), true, 'strict_tools when every tool is strict');
  t.equal(strictOf(true, false), undefined, 'Cohere’s switch covers all tools, so one lax tool keeps it off');
  t.same((body({ tools: [{ type: 'function', function: { name: 'ping' } }] })['tools'] as unknown[])[0], { type: 'function', function: { name: 'ping', parameters: { type: 'object', properties: {} } } }, 'parameters default to an empty object schema');
  rejects(t, () => body({ tools: [{ type: 'custom', custom: { name: 'x' } }] }), 'unsupported_parameter', 'tools');
});

t.test('response_format: JSON mode and JSON schema become json_object', async (t) => {
  t.same(body({ response_format: { type: 'json_object' } })['response_format'], { type: 'json_object' });
  const schema = { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] };
  t.same(body({ response_format: { type: 'json_schema', json_schema: { name: 'r', strict: true, schema } } })['response_format'], { type: 'json_object', json_schema: schema });
  t.notOk('response_format' in body({ response_format: { type: 'text' } }));
  rejects(t, () => body({ response_format: { type: 'json_schema', json_schema: { name: 'r' } } }), 'invalid_value', 'response_format');
  rejects(t, () => body({ response_format: { type: 'yaml' } }), 'invalid_value', 'response_format');
});

t.test('reasoning_effort switches thinking off (none) or on', async (t) => {
  t.same(body({ reasoning_effort: 'none' })['thinking'], { type: 'disabled' });
  t.same(body({ reasoning_effort: 'high' })['thinking'], { type: 'enabled' });
  t.notOk('thinking' in body({}));
});

t.test('unsupported parameters: dropped and logged by default, rejected on request', async (t) => {
  const dropping = makeCohere();
  const b = sentBody(dropping.adapter, cohereOp({ user: 'u1', logit_bias: { '1': 2 }, parallel_tool_calls: false, logprobs: false }));
  t.same(Object.keys(b).sort(), ['messages', 'model']);
  t.match(dropping.logs.find((l) => l['msg'] === 'dropped request fields the provider cannot honour'), { level: 'debug', dropped: ['user', 'logit_bias', 'parallel_tool_calls'] });

  const rejecting = makeCohere({ unsupported_params: 'reject' });
  const strict = (b: Record<string, unknown>) => sentBody(rejecting.adapter, cohereOp(b));
  const err = rejects(t, () => strict({ user: 'u1' }), 'unsupported_parameter', 'user');
  t.match(err.message, "Provider 'co' does not support the parameter 'user'");
  rejects(t, () => strict({ parallel_tool_calls: false }), 'unsupported_parameter', 'parallel_tool_calls');
  t.ok(strict({ parallel_tool_calls: true, logprobs: false, stream_options: { include_usage: true } }), 'values that ask for what Cohere does anyway pass');
});

t.test('embeddings request', async (t) => {
  const embed = (b: Record<string, unknown>, settings: Record<string, unknown> = {}) => sentBody(makeCohere(settings).adapter, cohereOp(b, { endpoint: 'embeddings' }));
  t.same(embed({ model: 'x', input: 'hello', encoding_format: 'float' }), { model: 'embed-v4.0', texts: ['hello'], input_type: 'search_document', embedding_types: ['float'] });
  t.same(embed({ input: ['a', 'b'], dimensions: 512 }), { model: 'embed-v4.0', texts: ['a', 'b'], input_type: 'search_document', embedding_types: ['float'], output_dimension: 512 });
  t.equal(embed({ input: 'q' }, { embedding_input_type: 'search_query' })['input_type'], 'search_query', 'the provider default');
  t.equal(embed({ input: 'q', input_type: 'classification' })['input_type'], 'classification', 'the client’s own input_type wins');
  rejects(t, () => embed({ input: [[1, 2, 3]] }), 'invalid_value', 'input');
  rejects(t, () => embed({ input: [] }), 'invalid_value', 'input');
  t.notOk('user' in embed({ input: 'a', user: 'u1' }), 'user is dropped');
  rejects(t, () => embed({ input: 'a', user: 'u1' }, { unsupported_params: 'reject' }), 'unsupported_parameter', 'user');
});

t.test('settings are validated by the schema', async (t) => {
  t.throws(() => makeCohere({ usage_source: 'guess' }));
  t.throws(() => makeCohere({ embedding_input_type: 'image' }), 'image input needs images, which the OpenAI embeddings API does not carry');
  t.throws(() => makeCohere({ surprise: true }));
});
