/**
 * `anthropic` request translation (OpenAI chat request → Messages API request), per
 * https://platform.claude.com/docs/en/api/messages. Pure: buildRequest only, no network.
 */
import t, { type Test } from 'tap';
import { chatOp, makeAnthropic } from './anthropic-adapter.js';
import { assertServes, built, caught, expectError, sentBody } from './harness.js';

const { adapter } = makeAnthropic();
const body = (b: Record<string, unknown>) => sentBody(adapter, chatOp(b));
const rejects = (t: Test, b: Record<string, unknown>, code: string, param: string) => expectError(t, () => body(b), 400, code, param);

t.test('request line and headers', async (t) => {
  const { adapter } = makeAnthropic({ base_url: 'http://127.0.0.1:9/', beta: ['a-2025', 'b-2026'], headers: { 'X-Team': 'blue' } });
  const req = built(adapter, chatOp({}, { stream: true, headers: { 'x-extra': 'yes', 'x-team': null } }));
  t.equal(req.url, 'http://127.0.0.1:9/v1/messages');
  t.equal(req.method, 'POST');
  t.match(req.headers, { 'x-api-key': 'sk-ant-test', 'anthropic-version': '2023-06-01', 'anthropic-beta': 'a-2025,b-2026', accept: 'text/event-stream', 'x-extra': 'yes', 'x-request-id': 'req-1' });
  t.notOk('x-team' in req.headers, 'a transform plugin can remove a configured header');
  t.equal(JSON.parse(String(req.body))['stream'], true);
  const bearer = built(makeAnthropic({ auth_header: 'authorization' }).adapter, chatOp({}));
  t.equal(bearer.headers['authorization'], 'Bearer sk-ant-test');
  t.notOk('x-api-key' in bearer.headers);
  t.equal(built(makeAnthropic().adapter, chatOp({})).url, 'https://api.anthropic.com/v1/messages', 'default base_url');
});

t.test('serves chat completions only', async (t) => {
  assertServes(t, adapter, ['chat.completions']);
});

t.test('system and developer messages become top-level system blocks, wherever they stand', async (t) => {
  const b = body({ messages: [{ role: 'system', content: 'Be brief.' }, { role: 'developer', content: [{ type: 'text', text: 'Use French.' }] }, { role: 'user', content: 'Hi' }, { role: 'system', content: 'Late rule.' }] });
  t.same(b['system'], [
    { type: 'text', text: 'Be brief.' },
    { type: 'text', text: 'Use French.' },
    { type: 'text', text: 'Late rule.' },
  ]);
  t.same(b['messages'], [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }]);
  t.notOk('system' in body({}), 'no system key without system messages');
});

t.test('consecutive turns of one role are merged; empty turns are left out', async (t) => {
  const b = body({ messages: [{ role: 'user', content: 'One' }, { role: 'user', content: 'Two' }, { role: 'assistant', content: '' }, { role: 'assistant', content: 'Three' }, { role: 'user', content: 'Four' }] });
  t.same(b['messages'], [
    { role: 'user', content: [{ type: 'text', text: 'One' }, { type: 'text', text: 'Two' }] },
    { role: 'assistant', content: [{ type: 'text', text: 'Three' }] },
    { role: 'user', content: [{ type: 'text', text: 'Four' }] },
  ]);
});

t.test('images and files: data URLs become base64 sources, http(s) URLs url sources', async (t) => {
  const b = body({
    messages: [
      {
        role: 'user',
        content: [
          { type: 'text', text: 'What is this?' },
          { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=', detail: 'high' } },
          { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg' } },
          { type: 'file', file: { filename: 'a.pdf', file_data: 'data:application/pdf;base64,JVBERi0=' } },
        ],
      },
    ],
  });
  t.same((b['messages'] as { content: unknown[] }[])[0]?.content, [
    { type: 'text', text: 'What is this?' },
    { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
    { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
    { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0=' } },
  ]);
  rejects(t, { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'ftp://x/y.png' } }] }] }, 'unsupported_parameter', 'messages[0].content[0]');
  rejects(t, { messages: [{ role: 'user', content: [{ type: 'file', file: { file_id: 'file-1' } }] }] }, 'unsupported_parameter', 'messages[0].content[0]');
});

t.test('a content part, message field or tool call Anthropic cannot take is a 400 naming it, never dropped', async (t) => {
  const user = { role: 'user', content: 'Hi' };
  const audio = rejects(t, { messages: [{ role: 'system', content: 'Be brief.' }, user, { role: 'user', content: [{ type: 'text', text: 'Listen' }, { type: 'input_audio', input_audio: { data: 'AAA', format: 'wav' } }] }] }, 'unsupported_parameter', 'messages[2].content[1]');
  t.match(audio.message, "Provider 'claude' cannot take content parts of type 'input_audio'");
  rejects(t, { messages: [user, { role: 'user', content: [{ type: 'x_future_part', data: 1 }] }] }, 'unsupported_parameter', 'messages[1].content[0]');
  const system = rejects(t, { messages: [{ role: 'system', content: [{ type: 'text', text: 'Look:' }, { type: 'image_url', image_url: { url: 'https://example.com/a.png' } }] }, user] }, 'unsupported_parameter', 'messages[0].content[1]');
  t.match(system.message, /in 'system' messages/);
  rejects(t, { messages: [user, { role: 'assistant', content: [{ type: 'image_url', image_url: { url: 'https://example.com/a.png' } }] }] }, 'unsupported_parameter', 'messages[1].content[0]');
  const toolTurn = { role: 'assistant', tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }] };
  rejects(t, { messages: [user, toolTurn, { role: 'tool', tool_call_id: 'c1', content: [{ type: 'image_url', image_url: { url: 'https://example.com/a.png' } }] }] }, 'unsupported_parameter', 'messages[2].content[0]');
  rejects(t, { messages: [user, { role: 'assistant', audio: { id: 'audio_1' } }] }, 'unsupported_parameter', 'messages[1].audio');
  rejects(t, { messages: [user, { role: 'assistant', function_call: { name: 'f', arguments: '{}' } }] }, 'unsupported_parameter', 'messages[1].function_call');
  rejects(t, { messages: [user, { role: 'assistant', tool_calls: [{ id: 'c1', type: 'custom', custom: { name: 'x', input: 'y' } }] }] }, 'unsupported_parameter', 'messages[1].tool_calls[0]');
});

t.test("an assistant turn's refusal is kept as its text; a participant name follows unsupported_params", async (t) => {
  const b = body({ messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: null, refusal: 'I cannot help with that.' }, { role: 'user', content: 'OK' }] });
  t.same((b['messages'] as { content: unknown }[])[1]?.content, [{ type: 'text', text: 'I cannot help with that.' }]);
  const dropping = makeAnthropic();
  const named = sentBody(dropping.adapter, chatOp({ messages: [{ role: 'user', name: 'alice', content: 'Hi' }] }));
  t.same(named['messages'], [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }]);
  t.match(dropping.logs.find((l) => l['msg'] === 'dropped request fields the provider cannot honour'), { level: 'debug', dropped: ['messages[0].name'] });
  const rejecting = makeAnthropic({ unsupported_params: 'reject' }).adapter;
  t.match(caught(() => rejecting.buildRequest(chatOp({ messages: [{ role: 'user', name: 'alice', content: 'Hi' }] }))), { status: 400, code: 'unsupported_parameter', param: 'messages[0].name' });
});

t.test('assistant tool calls become tool_use blocks; tool results share one user turn', async (t) => {
  const b = body({
    messages: [
      { role: 'user', content: 'Weather?' },
      { role: 'assistant', content: 'Checking.', tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }, { id: 'call_2', type: 'function', function: { name: 'now', arguments: '' } }] },
      { role: 'tool', tool_call_id: 'call_1', content: '{"temp":21}' },
      { role: 'tool', tool_call_id: 'call_2', content: [{ type: 'text', text: '12:00' }] },
      { role: 'user', content: 'Thanks' },
    ],
  });
  t.same(b['messages'], [
    { role: 'user', content: [{ type: 'text', text: 'Weather?' }] },
    { role: 'assistant', content: [{ type: 'text', text: 'Checking.' }, { type: 'tool_use', id: 'call_1', name: 'get_weather', input: { city: 'Paris' } }, { type: 'tool_use', id: 'call_2', name: 'now', input: {} }] },
    {
      role: 'user',
      content: [
        { type: 'tool_result', tool_use_id: 'call_1', content: '{"temp":21}' },
        { type: 'tool_result', tool_use_id: 'call_2', content: [{ type: 'text', text: '12:00' }] },
        { type: 'text', text: 'Thanks' },
      ],
    },
  ]);
  rejects(t, { messages: [{ role: 'assistant', tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{oops' } }] }] }, 'invalid_value', 'messages');
  rejects(t, { messages: [{ role: 'function', name: 'f', content: 'x' }] }, 'unsupported_parameter', 'messages[0].role');
});

const weather = { type: 'function', function: { name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } } }, strict: true } };

t.test('tools become {name, description, input_schema}', async (t) => {
  t.same(body({ tools: [weather, { type: 'function', function: { name: 'ping' } }] })['tools'], [
    { name: 'get_weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } }, description: 'Weather for a city', strict: true },
    { name: 'ping', input_schema: { type: 'object', properties: {} } },
  ]);
  rejects(t, { tools: [{ type: 'custom', custom: { name: 'x' } }] }, 'unsupported_parameter', 'tools');
});

t.test('tool_choice variants and parallel_tool_calls', async (t) => {
  const choice = (tool_choice: unknown, extra: Record<string, unknown> = {}) => body({ tools: [weather], tool_choice, ...extra })['tool_choice'];
  t.same(choice('auto'), { type: 'auto' });
  t.same(choice('none'), { type: 'none' });
  t.same(choice('required'), { type: 'any' });
  t.same(choice({ type: 'function', function: { name: 'get_weather' } }), { type: 'tool', name: 'get_weather' });
  t.same(choice('required', { parallel_tool_calls: false }), { type: 'any', disable_parallel_tool_use: true });
  t.same(choice(undefined, { parallel_tool_calls: false }), { type: 'auto', disable_parallel_tool_use: true });
  t.equal(choice(undefined), undefined, 'no tool_choice by default');
  rejects(t, { tool_choice: 'required' }, 'invalid_value', 'tool_choice');
  rejects(t, { tools: [weather], tool_choice: 'sometimes' }, 'invalid_value', 'tool_choice');
});

t.test('sampling, stop, user and max_tokens', async (t) => {
  const b = body({ temperature: 0.3, top_p: 0.9, stop: 'END', user: 'user-42', max_tokens: 100 });
  t.match(b, { temperature: 0.3, top_p: 0.9, stop_sequences: ['END'], metadata: { user_id: 'user-42' }, max_tokens: 100 });
  t.same(body({ stop: ['a', 'b'] })['stop_sequences'], ['a', 'b']);
  t.equal(body({ max_tokens: 100, max_completion_tokens: 200 })['max_tokens'], 200, 'max_completion_tokens wins');
  t.equal(body({})['max_tokens'], 4096, 'Anthropic requires max_tokens: the default fills in');
  t.equal(sentBody(makeAnthropic({ default_max_tokens: 777 }).adapter, chatOp({}))['max_tokens'], 777);
  const err = rejects(t, { temperature: 1.5 }, 'invalid_value', 'temperature');
  t.match(err.message, /0 to 1/);
});

t.test('n > 1 is always rejected; n = 1 is fine', async (t) => {
  rejects(t, { n: 3 }, 'unsupported_parameter', 'n');
  t.notOk('n' in body({ n: 1 }));
});

t.test('unsupported_params: drop leaves fields out (logged), reject answers 400', async (t) => {
  const dropping = makeAnthropic();
  const b = sentBody(dropping.adapter, chatOp({ seed: 7, logprobs: true, frequency_penalty: 0.5 }));
  t.notOk('seed' in b || 'logprobs' in b || 'frequency_penalty' in b);
  t.match(dropping.logs.find((l) => l['msg'] === 'dropped request fields the provider cannot honour'), { level: 'debug', dropped: ['seed', 'logprobs', 'frequency_penalty'] });
  const rejecting = makeAnthropic({ unsupported_params: 'reject' }).adapter;
  t.match(caught(() => rejecting.buildRequest(chatOp({ seed: 7 }))), { status: 400, code: 'unsupported_parameter', param: 'seed' });
});

const schema = { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'], additionalProperties: false };
const jsonSchema = { type: 'json_schema', json_schema: { name: 'answer', schema } };

t.test('response_format json_schema uses structured outputs by default', async (t) => {
  const b = body({ response_format: jsonSchema, reasoning_effort: 'low' });
  t.same(b['output_config'], { effort: 'low', format: { type: 'json_schema', schema } });
  t.notOk('tools' in b);
  t.same(body({ response_format: { type: 'text' } })['output_config'], undefined, 'text format adds nothing');
  rejects(t, { response_format: { type: 'json_schema', json_schema: { name: 'x' } } }, 'invalid_value', 'response_format');
  rejects(t, { reasoning_effort: 'minimal' }, 'invalid_value', 'reasoning_effort');
});

t.test('json_mode: tool, and json_object, force a synthetic tool carrying the schema', async (t) => {
  const b = sentBody(makeAnthropic({ json_mode: 'tool' }).adapter, chatOp({ response_format: jsonSchema }));
  t.same(b['tools'], [{ name: 'json_response', description: 'Give the complete answer as this tool input.', input_schema: schema }]);
  t.same(b['tool_choice'], { type: 'tool', name: 'json_response' });
  t.notOk('output_config' in b);
  const o = body({ response_format: { type: 'json_object' } });
  t.same(o['tools'], [{ name: 'json_response', description: 'Give the complete answer as this tool input.', input_schema: { type: 'object' } }]);
  rejects(t, { response_format: { type: 'json_object' }, tools: [weather] }, 'unsupported_parameter', 'response_format');
});
